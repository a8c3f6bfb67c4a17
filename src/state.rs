#[derive(Debug, thiserror::Error)]
pub enum StateError {}
