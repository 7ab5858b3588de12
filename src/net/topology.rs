//! The topology: nodes and the links between them, as a petgraph graph.
//!
//! Nodes are added in actor order, so node index `i` is `ActorId(i)`. An edge is an explicit
//! link with its own [`LinkSpec`]; any pair without an edge uses the default link, or has no
//! route at all when there is no default (messages on it are dropped as `no-route`).

use petgraph::graph::{DiGraph, NodeIndex};

use super::error::{ConfigError, closest_name};
use super::link::LinkSpec;
use crate::sim::ActorId;

/// Nodes, explicit links and the default link.
#[derive(Clone, Debug)]
pub struct Topology {
    graph: DiGraph<String, LinkSpec>,
    default_link: Option<LinkSpec>,
}

impl Topology {
    /// A topology where every pair without an explicit link uses `default_link`
    /// (`None`: only explicit links carry messages).
    pub fn new(default_link: Option<LinkSpec>) -> Self {
        Topology {
            graph: DiGraph::new(),
            default_link,
        }
    }

    /// Adds a node; its id is the number of nodes added before it.
    pub fn add_node(&mut self, name: &str) -> Result<ActorId, ConfigError> {
        if self.node_id(name).is_some() {
            return Err(ConfigError::DuplicateNode(name.to_string()));
        }
        let index = self.graph.add_node(name.to_string());
        Ok(ActorId(index.index() as u32))
    }

    /// Sets the link from `src` to `dst` (one direction), replacing any earlier one.
    pub fn set_link(&mut self, src: ActorId, dst: ActorId, spec: LinkSpec) {
        let (a, b) = (NodeIndex::new(src.index()), NodeIndex::new(dst.index()));
        self.graph.update_edge(a, b, spec);
    }

    /// Sets the same link in both directions.
    pub fn set_link_both(&mut self, a: ActorId, b: ActorId, spec: LinkSpec) {
        self.set_link(a, b, spec);
        self.set_link(b, a, spec);
    }

    /// The id of the node called `name`.
    pub fn node_id(&self, name: &str) -> Option<ActorId> {
        self.graph
            .node_indices()
            .find(|&i| self.graph[i] == name)
            .map(|i| ActorId(i.index() as u32))
    }

    /// The id of `name`, or an error listing the known names and the likely intended one.
    pub fn resolve(&self, name: &str) -> Result<ActorId, ConfigError> {
        self.node_id(name).ok_or_else(|| {
            let mut known: Vec<String> = self.names().to_vec();
            known.sort();
            ConfigError::UnknownNode {
                name: name.to_string(),
                suggestion: closest_name(name, known.iter().map(String::as_str)),
                known,
            }
        })
    }

    /// Node names in id order.
    pub fn names(&self) -> Vec<String> {
        self.graph.node_weights().cloned().collect()
    }

    /// Number of nodes.
    pub fn node_count(&self) -> usize {
        self.graph.node_count()
    }

    /// The link used from `src` to `dst`: the explicit one, else the default.
    pub fn link(&self, src: ActorId, dst: ActorId) -> Option<&LinkSpec> {
        let (a, b) = (NodeIndex::new(src.index()), NodeIndex::new(dst.index()));
        match self.graph.find_edge(a, b) {
            Some(edge) => Some(&self.graph[edge]),
            None => self.default_link.as_ref(),
        }
    }

    /// The default link, if any.
    pub fn default_link(&self) -> Option<&LinkSpec> {
        self.default_link.as_ref()
    }

    /// The underlying graph, for drawing (DOT) and analysis.
    pub fn graph(&self) -> &DiGraph<String, LinkSpec> {
        &self.graph
    }

    /// Checks every link's parameters.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if let Some(default) = &self.default_link {
            default.validate("default link")?;
        }
        for edge in self.graph.edge_indices() {
            let (a, b) = self.graph.edge_endpoints(edge).expect("edge exists");
            let what = format!("link {}->{}", self.graph[a], self.graph[b]);
            self.graph[edge].validate(&what)?;
        }
        Ok(())
    }
}
