package schemas

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"
)

// Manifest lists the shards of one output and the metadata they share. It
// is written last, so its presence means the output is complete.
type Manifest struct {
	Table         string          `json:"table"`
	SchemaVersion string          `json:"schema_version"`
	Format        Format          `json:"format"`
	Rows          int64           `json:"rows"`
	Shards        []ManifestShard `json:"shards"`
	Metadata      Metadata        `json:"metadata"`
}

// ManifestShard is one shard, named relative to the manifest's folder so an
// output can be copied elsewhere (say, from local disk to gs://) whole.
type ManifestShard struct {
	Name string `json:"name"`
	Rows int64  `json:"rows"`
}

// ManifestSuffix ends the manifest's name: <prefix>.manifest.json.
const ManifestSuffix = ".manifest.json"

// Marshal renders the manifest as indented JSON.
func (m Manifest) Marshal() []byte {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		panic(err) // only strings and numbers: cannot fail
	}
	return append(b, '\n')
}

// ParseManifest reads a manifest and checks that its counts add up.
func ParseManifest(b []byte) (Manifest, error) {
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return m, fmt.Errorf("manifest: %w", err)
	}
	var n int64
	for i, s := range m.Shards {
		// A reader opens each shard as the manifest's folder + its name:
		// a name with a separator or "..", or an absolute one, would
		// send a crafted manifest's reader outside the output.
		if s.Name == "" || s.Name == "." || s.Name == ".." || strings.ContainsAny(s.Name, "/\\\x00") {
			return m, fmt.Errorf("manifest: shard %d's name %q is not a file name in the manifest's folder", i, s.Name)
		}
		if s.Rows < 0 || s.Rows > math.MaxInt64-n {
			return m, fmt.Errorf("manifest: shard %d (%s) claims %d rows", i, s.Name, s.Rows)
		}
		n += s.Rows
	}
	if n != m.Rows {
		return m, fmt.Errorf("manifest: shards hold %d rows but the manifest says %d", n, m.Rows)
	}
	return m, nil
}
