package schemas

import (
	"strings"
	"testing"
)

// A manifest's shard names are file names in its folder: a reader joins
// them to the folder, so a separator, "..", an absolute name or a NUL
// would read outside the output. Negative or overflowing row counts are
// refused too.
func TestParseManifestRefusesNamesOutsideItsFolder(t *testing.T) {
	manifest := func(name string, rows string) []byte {
		return []byte(`{"table":"scored","rows":` + rows + `,"shards":[{"name":"scored-00000-of-00002.arrow","rows":0},{"name":` + name + `,"rows":` + rows + `}]}`)
	}
	for _, c := range []struct{ name, rows, want string }{
		{`"../x.arrow"`, "1", `shard 1's name "../x.arrow" is not a file name`},
		{`"/etc/passwd"`, "1", `shard 1's name "/etc/passwd" is not a file name`},
		{`"a/b.arrow"`, "1", `shard 1's name "a/b.arrow"`},
		{`"..\\x.arrow"`, "1", `shard 1's name "..\\x.arrow"`},
		{`".."`, "1", `shard 1's name ".."`},
		{`""`, "1", `shard 1's name ""`},
		{`"x\u0000.arrow"`, "1", `shard 1's name "x\x00.arrow"`},
		{`"gs://other/x.arrow"`, "1", `shard 1's name "gs://other/x.arrow"`},
		{`"b.arrow"`, "-1", "shard 1 (b.arrow) claims -1 rows"},
	} {
		_, err := ParseManifest(manifest(c.name, c.rows))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("name %s rows %s: %v, want %q", c.name, c.rows, err, c.want)
		}
	}
	if _, err := ParseManifest(manifest(`"scored-00001-of-00002.arrow"`, "3")); err != nil {
		t.Errorf("a manifest of plain names: %v", err)
	}
	huge := []byte(`{"rows":-2,"shards":[{"name":"a.arrow","rows":9223372036854775807},{"name":"b.arrow","rows":9223372036854775807}]}`)
	if _, err := ParseManifest(huge); err == nil || !strings.Contains(err.Error(), "shard 1 (b.arrow) claims") {
		t.Errorf("rows that overflow int64: %v", err)
	}
}
