//! Spreading one logical partition over a few physical ones: a record's shard, drawn from a stable hash of its key.

/// The shard of `key` among `shards`: FNV-1a of its text, so that a record rewritten under the same key lands in
/// the same shard (its index entry is replaced in place, never duplicated in two shards).
pub fn shard_of(key: &str, shards: u32) -> u32 {
    let hash = key
        .bytes()
        .fold(0x811c_9dc5_u32, |h, b| (h ^ u32::from(b)).wrapping_mul(0x0100_0193));
    hash % shards.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_keeps_its_shard_and_keys_use_every_shard() {
        let id = "0193a1f2-7c4e-7d2a-9b1e-2f3c4d5e6f70";
        assert_eq!(shard_of(id, 8), shard_of(id, 8));
        let used: std::collections::BTreeSet<u32> = (0..200).map(|i| shard_of(&format!("app-{i}"), 8)).collect();
        assert_eq!(used.len(), 8, "{used:?}");
        assert_eq!(shard_of(id, 0), 0, "no shards is one shard");
    }
}
