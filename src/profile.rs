#[derive(Debug, thiserror::Error)]
pub enum ProfileError {}
