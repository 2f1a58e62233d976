//! What ships and how it is built: the container image, the Kubernetes
//! manifests, the operations surface of the binary (/metrics, health, config,
//! logs), and the layering of src/ (no import cycles).

#[path = "../common/mod.rs"]
mod common;

mod container;
mod k8s;
mod layers;
mod ops;
