// Package runners chooses the Beam runner and registers the filesystems
// srdpo reads and writes: local paths, gs:// and memfs://.
//
// The runner comes from Beam's own --runner flag: prism in-process when it is
// absent; direct (deprecated by Beam: it lets unregistered DoFns pass);
// universal or flink with --endpoint and --environment_type=EXTERNAL or
// LOOPBACK; dataflow with --project, --region, --staging_location and a
// prebuilt --worker_binary.
package runners
