package schemas

import "fmt"

// DeadLetter is an input record that could not be used, with where it was
// and why. Every record read ends as a good row or as one of these.
type DeadLetter struct {
	Source string `arrow:"source"` // the file it came from
	Line   int64  `arrow:"line"`   // 1-based line for line-oriented files, else 0
	Record int64  `arrow:"record"` // 1-based ordinal of the record in its file; 0 for a whole-file failure
	Offset int64  `arrow:"offset"` // byte offset in the decompressed file, -1 when unknown
	Reason string `arrow:"reason"` // a stable code, e.g. "malformed_json"
	Detail string `arrow:"detail"` // what exactly was wrong
	Raw    string `arrow:"raw"`    // the record's text, cut to a limit, invalid UTF-8 replaced
}

// DeadLetters is the contract of dead-letter files.
var DeadLetters = newTable("dead_letter", "1", DeadLetter{})

// Key orders dead letters by file, then position.
func (d DeadLetter) Key() string {
	return fmt.Sprintf("%s\x00%012d\x00%012d", d.Source, d.Record, d.Line)
}

func (d DeadLetter) Validate() error {
	if d.Source == "" {
		return invalid("source", "empty")
	}
	if d.Reason == "" {
		return invalid("reason", "empty")
	}
	return nil
}
