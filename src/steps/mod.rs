//! (grows with each issue)
