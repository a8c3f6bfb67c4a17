//! Docker's archive API speaks tar: an archive of a few directories and one
//! file, to upload into a container.

/// An archive holding `dirs` (created in order, mode 0755) and then `file`
/// (mode 0644), all owned by root. Paths are relative to the upload target.
/// The error says why it cannot be built.
pub fn build(dirs: &[String], file: &str, contents: &[u8], mtime: u64) -> Result<Vec<u8>, String> {
    let write_err = |e: std::io::Error| format!("cannot build the archive: {e}");
    let dirs = dirs
        .iter()
        .map(|d| (format!("{d}/"), 0o755, &[][..], tar::EntryType::Directory));
    let entries = dirs.chain([(file.to_string(), 0o644, contents, tar::EntryType::Regular)]);
    let mut b = tar::Builder::new(Vec::new());
    for (path, mode, data, kind) in entries {
        let mut h = tar::Header::new_ustar();
        // ustar keeps names up to 100 bytes, plus a 155-byte prefix split at a `/`.
        h.set_path(&path).map_err(|_| {
            format!("path {path} is too long for a tar archive (limit about 255 bytes)")
        })?;
        h.set_mode(mode);
        h.set_uid(0);
        h.set_gid(0);
        h.set_size(data.len() as u64);
        h.set_mtime(mtime);
        h.set_entry_type(kind);
        h.set_username("root")
            .and_then(|_| h.set_groupname("root"))
            .map_err(write_err)?;
        h.set_cksum();
        b.append(&h, data).map_err(write_err)?;
    }
    b.into_inner().map_err(write_err)
}

#[cfg(test)]
mod tests {
    use super::*;

    const BLOCK: usize = 512;

    #[test]
    fn builds_a_valid_ustar_archive() {
        let tar = build(
            &["etc".into(), "etc/x".into()],
            "etc/x/hosts.toml",
            b"hello",
            1_700_000_000,
        )
        .unwrap();
        // 2 dirs + file header + 1 data block + 2 end blocks
        assert_eq!(tar.len(), BLOCK * 6);
        assert_eq!(&tar[..4], b"etc/");
        assert_eq!(tar[156], b'5');
        assert_eq!(&tar[257..263], b"ustar\0");
        let f = &tar[BLOCK * 2..BLOCK * 3];
        assert_eq!(&f[..16], b"etc/x/hosts.toml");
        assert_eq!(f[156], b'0');
        assert_eq!(&f[100..107], b"0000644");
        assert_eq!(&f[124..135], b"00000000005");
        assert_eq!(&tar[BLOCK * 3..BLOCK * 3 + 5], b"hello");
        // the checksum verifies
        let stored = tar::Header::from_byte_slice(f).cksum().unwrap();
        let mut copy = f.to_vec();
        copy[148..156].copy_from_slice(b"        ");
        assert_eq!(stored, copy.iter().map(|&b| b as u32).sum::<u32>());
    }

    #[test]
    fn long_paths_use_the_prefix_field() {
        let dir = "d".repeat(120);
        let path = format!("{dir}/file");
        let tar = build(&[], &path, b"x", 0).unwrap();
        assert_eq!(&tar[..4], b"file");
        assert_eq!(&tar[345..345 + 120], dir.as_bytes());
        assert!(build(&[], &"e".repeat(300), b"x", 0).is_err());
    }
}
