//! The main job: a whole device on loopback. Grows with every crate.
fn main() {
    println!("sigil demo: nothing built yet");
}
