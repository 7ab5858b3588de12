//! The `consim` command line.

fn main() {
    println!("consim");
}
