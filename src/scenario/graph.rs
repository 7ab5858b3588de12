//! A model's topology as a petgraph graph, printed in Graphviz DOT.

use petgraph::dot::{Config, Dot};
use petgraph::graph::DiGraph;

use super::Model;

/// The model as a graph: for a system, the client and gateway, every service, and one edge
/// per step from the gateway to the service running it (labelled with the step's number and
/// name); for a pingmesh, the full mesh of nodes.
pub fn topology(model: &Model) -> DiGraph<String, String> {
    let mut graph = DiGraph::new();
    match model {
        Model::System(system) => {
            let client = graph.add_node("client".to_string());
            let gateway = graph.add_node("gateway".to_string());
            graph.add_edge(client, gateway, "requests".to_string());
            let services: Vec<_> = system
                .services
                .iter()
                .map(|s| graph.add_node(s.name.clone()))
                .collect();
            for (index, step) in system.steps.iter().enumerate() {
                graph.add_edge(
                    gateway,
                    services[step.service.index()],
                    format!("{index}: {}", step.name),
                );
            }
        }
        Model::Pingmesh(config) => {
            let nodes: Vec<_> = (0..config.node_count)
                .map(|i| graph.add_node(format!("n{i}")))
                .collect();
            for &a in &nodes {
                for &b in &nodes {
                    if a != b {
                        graph.add_edge(a, b, String::new());
                    }
                }
            }
        }
    }
    graph
}

/// The model's topology in DOT.
pub fn dot(model: &Model) -> String {
    let graph = topology(model);
    format!("{}", Dot::with_config(&graph, &[Config::GraphContentOnly]))
        .lines()
        .fold("digraph {\n".to_string(), |mut out, line| {
            out.push_str(line);
            out.push('\n');
            out
        })
        + "}\n"
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::system::examples::food_delivery;

    #[test]
    fn a_system_graph_has_one_edge_per_step_from_the_gateway() {
        let model = Model::System(Arc::new(food_delivery()));
        let graph = topology(&model);
        assert_eq!(graph.node_count(), 2 + 4);
        assert_eq!(graph.edge_count(), 1 + 4);
        let text = dot(&model);
        assert!(text.starts_with("digraph {"), "{text}");
        assert!(text.contains("label = \"1: charge_payment\""), "{text}");
    }
}
