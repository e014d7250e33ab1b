package pipelines

import (
	"flag"
	"fmt"
	"strconv"
	"strings"

	"github.com/srdpo/srdpo/schemas"
	"github.com/srdpo/srdpo/stages"
)

// Every job's configuration follows one pattern: a config struct, a
// Default…Config() constructor holding the defaults, RegisterFlags binding
// each field to its flag (the field's current value is the default shown),
// and Validate checking the whole, with messages in a fixed order.

// StringList is a repeatable, comma-separable string flag: --x a --x b,c
// gives [a b c].
type StringList []string

func (l *StringList) String() string { return strings.Join(*l, ",") }

func (l *StringList) Set(v string) error {
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			*l = append(*l, p)
		}
	}
	return nil
}

// shardFormatFlag reads --format; IngestConfig.Validate checks it is
// arrow or parquet.
type shardFormatFlag struct{ p *schemas.Format }

func (f shardFormatFlag) String() string {
	if f.p == nil {
		return ""
	}
	return string(*f.p)
}

func (f shardFormatFlag) Set(v string) error { *f.p = schemas.Format(v); return nil }

// shardsFlag reads --shards: a count, or auto (0).
type shardsFlag struct{ p *int }

func (f shardsFlag) String() string {
	if f.p == nil {
		return ""
	}
	if *f.p == 0 {
		return "auto"
	}
	return strconv.Itoa(*f.p)
}

func (f shardsFlag) Set(v string) error {
	if v == "auto" {
		*f.p = 0
		return nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		return fmt.Errorf("want a positive number of shards or auto")
	}
	*f.p = n
	return nil
}

// corpusFormatFlag reads --corpus-format.
type corpusFormatFlag struct{ p *stages.CorpusFormat }

func (f corpusFormatFlag) String() string {
	if f.p == nil {
		return ""
	}
	return string(*f.p)
}

func (f corpusFormatFlag) Set(v string) error {
	c, err := stages.ParseCorpusFormat(v)
	if err == nil {
		*f.p = c
	}
	return err
}

// chatTemplateFlag reads --chat-template: a built-in name or a JSON file.
type chatTemplateFlag struct{ p *stages.ChatTemplate }

func (f chatTemplateFlag) String() string {
	if f.p == nil {
		return ""
	}
	return f.p.Name
}

func (f chatTemplateFlag) Set(v string) error {
	t, err := stages.ParseChatTemplate(v)
	if err == nil {
		*f.p = t
	}
	return err
}

// required checks that the named flags have values, in the order given,
// so the first missing one named is always the same.
func required(flags ...[2]string) error {
	for _, f := range flags {
		if f[1] == "" {
			return fmt.Errorf("--%s is required", f[0])
		}
	}
	return nil
}

// flagNames lists the flags that register adds, for telling which of a
// command's flags belong to one part of it.
func flagNames(register func(*flag.FlagSet)) map[string]bool {
	fs := flag.NewFlagSet("names", flag.ContinueOnError)
	register(fs)
	names := map[string]bool{}
	fs.VisitAll(func(f *flag.Flag) { names[f.Name] = true })
	return names
}

// FloatList is a comma-separable list of numbers: --x 0.5 or --x 0,0.5,1.
// The first --x replaces the default; a repeated --x adds to the list.
type FloatList struct {
	p   *[]float64
	set bool
}

// NewFloatList binds a list flag to p, whose current value is the default.
func NewFloatList(p *[]float64) *FloatList { return &FloatList{p: p} }

func (l *FloatList) String() string {
	if l == nil || l.p == nil {
		return ""
	}
	s := make([]string, len(*l.p))
	for i, v := range *l.p {
		s[i] = strconv.FormatFloat(v, 'g', -1, 64)
	}
	return strings.Join(s, ",")
}

func (l *FloatList) Set(v string) error {
	if !l.set {
		*l.p, l.set = nil, true
	}
	for _, part := range strings.Split(v, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		f, err := strconv.ParseFloat(part, 64)
		if err != nil {
			return fmt.Errorf("%q is not a number", part)
		}
		*l.p = append(*l.p, f)
	}
	return nil
}
