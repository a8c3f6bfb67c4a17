//! The steps of `nvcf-dev up`, in order, each with a status line.
