#[derive(Debug, thiserror::Error)]
pub enum SettingsError {}
