// Package shardio is srdpo's shard I/O, a connector of its own as Beam's
// io/fileio is: WriteShards, the sink that spills bundles to sorted runs,
// merges them k ways and finalises each table's shards and manifest;
// ReadShards, the source, with List and ReadShard beneath it; MergeByKey;
// the storage layer (transient retries, atomic writes, whole-file reads)
// on any Beam filesystem; memory-mapped local shards; and GuardOutputs,
// which leaves the earlier complete set of a failed job's outputs, or
// none. Its DoFns are unexported and registered in init().
package shardio
