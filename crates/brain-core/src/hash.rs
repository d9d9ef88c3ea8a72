//! Content hashing.
//!
//! BLAKE3 because it hashes a 5 MiB note in about a millisecond, so hashing is never the reason a
//! sync is slow. The hash is of the exact file bytes: two files are "the same" only if every byte is.

/// The hex BLAKE3 hash of `bytes`, as stored in `content_hash` and in the file base.
pub fn content_hash(bytes: &[u8]) -> String {
    blake3::hash(bytes).to_hex().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_differs_on_one_byte_and_is_stable() {
        assert_eq!(content_hash(b"a"), content_hash(b"a"));
        assert_ne!(content_hash(b"a\n"), content_hash(b"a\r\n"));
        assert_eq!(content_hash(b"").len(), 64);
    }
}
