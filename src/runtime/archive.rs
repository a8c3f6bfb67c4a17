//! Just enough of the tar format for Docker's archive API: build an archive of
//! a few directories and one file (to upload), and pull one regular file out
//! of an archive (to download). A hand-written ustar writer avoids a
//! dependency for ~100 lines, and being pure it is tested here byte by byte.

const BLOCK: usize = 512;

/// Why an archive could not be built or read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchiveError(pub String);

/// An archive holding `dirs` (created in order, mode 0755) and then `file`
/// (mode 0644), all owned by root. Paths are relative to the upload target.
pub fn build(
    dirs: &[String],
    file: &str,
    contents: &[u8],
    mtime: u64,
) -> Result<Vec<u8>, ArchiveError> {
    let mut out = Vec::with_capacity(BLOCK * (dirs.len() + 3) + contents.len());
    for d in dirs {
        out.extend_from_slice(&header(&format!("{d}/"), 0o755, 0, mtime, b'5')?);
    }
    out.extend_from_slice(&header(file, 0o644, contents.len() as u64, mtime, b'0')?);
    out.extend_from_slice(contents);
    pad(&mut out);
    out.extend_from_slice(&[0u8; BLOCK * 2]);
    Ok(out)
}

fn pad(out: &mut Vec<u8>) {
    let rem = out.len() % BLOCK;
    if rem != 0 {
        out.resize(out.len() + BLOCK - rem, 0);
    }
}

fn header(
    path: &str,
    mode: u32,
    size: u64,
    mtime: u64,
    kind: u8,
) -> Result<[u8; BLOCK], ArchiveError> {
    let mut h = [0u8; BLOCK];
    let (prefix, name) = split_name(path)?;
    h[..name.len()].copy_from_slice(name.as_bytes());
    octal(&mut h[100..108], mode as u64)?;
    octal(&mut h[108..116], 0)?;
    octal(&mut h[116..124], 0)?;
    octal(&mut h[124..136], size)?;
    octal(&mut h[136..148], mtime)?;
    h[156] = kind;
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    h[265..269].copy_from_slice(b"root");
    h[297..301].copy_from_slice(b"root");
    h[345..345 + prefix.len()].copy_from_slice(prefix.as_bytes());
    // The checksum is computed with its own field as spaces.
    h[148..156].copy_from_slice(b"        ");
    let sum: u32 = h.iter().map(|&b| b as u32).sum();
    let cs = format!("{sum:06o}\0 ");
    h[148..156].copy_from_slice(cs.as_bytes());
    Ok(h)
}

/// ustar keeps names up to 100 bytes, plus a 155-byte prefix split at a `/`.
fn split_name(path: &str) -> Result<(&str, &str), ArchiveError> {
    if path.len() <= 100 {
        return Ok(("", path));
    }
    // Split at a slash so that the name part fits in 100 bytes and the
    // prefix in 155; a trailing slash (directory) stays with the name.
    let body = path.trim_end_matches('/');
    for (i, _) in body.match_indices('/') {
        let (prefix, name) = (&path[..i], &path[i + 1..]);
        if prefix.len() <= 155 && name.len() <= 100 && !name.is_empty() {
            return Ok((prefix, name));
        }
    }
    Err(ArchiveError(format!(
        "path {path} is too long for a tar archive (limit about 255 bytes)"
    )))
}

fn octal(field: &mut [u8], value: u64) -> Result<(), ArchiveError> {
    let width = field.len() - 1;
    let s = format!("{value:0width$o}");
    if s.len() > width {
        return Err(ArchiveError(format!(
            "value {value} does not fit a tar header"
        )));
    }
    field[..width].copy_from_slice(s.as_bytes());
    field[width] = 0;
    Ok(())
}

fn parse_octal(field: &[u8]) -> Result<u64, ArchiveError> {
    let s: String = field
        .iter()
        .take_while(|&&b| b != 0)
        .map(|&b| b as char)
        .collect();
    let s = s.trim();
    if s.is_empty() {
        return Ok(0);
    }
    u64::from_str_radix(s, 8).map_err(|_| ArchiveError(format!("bad number {s:?} in tar header")))
}

/// The contents of the first regular file in `tar` (what Docker returns when
/// asked for a single file's archive).
pub fn first_file(tar: &[u8]) -> Result<Vec<u8>, ArchiveError> {
    let mut at = 0;
    while at + BLOCK <= tar.len() {
        let h = &tar[at..at + BLOCK];
        if h.iter().all(|&b| b == 0) {
            break;
        }
        let size = parse_octal(&h[124..136])? as usize;
        let data = at + BLOCK;
        let end = data
            .checked_add(size)
            .filter(|&e| e <= tar.len())
            .ok_or_else(|| ArchiveError("archive is truncated".to_string()))?;
        match h[156] {
            b'0' | 0 => return Ok(tar[data..end].to_vec()),
            _ => {}
        }
        at = data + size.div_ceil(BLOCK) * BLOCK;
    }
    Err(ArchiveError("archive holds no regular file".to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let stored = parse_octal(&f[148..154]).unwrap() as u32;
        let mut copy = f.to_vec();
        copy[148..156].copy_from_slice(b"        ");
        assert_eq!(stored, copy.iter().map(|&b| b as u32).sum::<u32>());
    }

    #[test]
    fn reads_back_the_file() {
        let tar = build(&["a".into()], "a/b", b"contents\n", 0).unwrap();
        assert_eq!(first_file(&tar).unwrap(), b"contents\n");
        let empty = build(&[], "f", b"", 0).unwrap();
        assert_eq!(first_file(&empty).unwrap(), b"");
        let big = vec![7u8; 1300];
        assert_eq!(first_file(&build(&[], "f", &big, 0).unwrap()).unwrap(), big);
    }

    #[test]
    fn reading_garbage_is_an_error_not_a_panic() {
        assert!(first_file(&[]).is_err());
        assert!(first_file(&[0u8; 1024]).is_err());
        let mut tar = build(&[], "f", b"abc", 0).unwrap();
        tar.truncate(BLOCK + 1);
        octal(&mut tar[124..136], 99_999).unwrap();
        assert!(first_file(&tar).is_err());
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
