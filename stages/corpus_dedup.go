package stages

import (
	"context"
	"maps"
	"slices"
	"sort"

	"github.com/srdpo/srdpo/stages/shardio"
)

// place is where a record is: what the first pass keeps of it.
type place struct {
	Source string
	Line   int64
	Record int64
}

// before orders places by file, then position: the first of an id wins.
func (p place) before(q place) bool {
	if p.Source != q.Source {
		return p.Source < q.Source
	}
	return p.Record < q.Record
}

// idPlace is a record's id and place.
type idPlace struct {
	ID string
	At place
}

// idBlock is the ids and places of records of one file whose ids hash to
// one bucket: what the first pass sends through its GroupByKey, so that a
// runner's per-element cost (about half a kilobyte on prism) is paid per
// block of ids, not per record.
type idBlock struct {
	Source         string
	IDs            []string
	Lines, Records []int64
}

func (b *idBlock) add(id string, at place) {
	b.IDs, b.Lines, b.Records = append(b.IDs, id), append(b.Lines, at.Line), append(b.Records, at.Record)
}

// idBuckets is how many keys the ids are grouped under.
const idBuckets = 1024

// idBlockRecords bounds the ids the first pass holds before it emits its
// blocks, so that its memory does not grow with a file.
const idBlockRecords = 1 << 16

// duplicate is a record whose id an earlier record has.
type duplicate struct {
	ID    string
	At    place
	First place
}

// corpusIDsFn is the first pass: each good record's id and place.
type corpusIDsFn struct {
	MaxRecordBytes int
	Options        parseOptions
}

func (fn *corpusIDsFn) ProcessElement(ctx context.Context, f corpusChunk, emit func(int, idBlock)) error {
	blocks := map[int]*idBlock{}
	held := 0
	flush := func() {
		for _, k := range slices.Sorted(maps.Keys(blocks)) {
			emit(k, *blocks[k])
		}
		clear(blocks)
		held = 0
	}
	err := readCorpusChunk(ctx, f, fn.MaxRecordBytes, func(r rawRecord) {
		if r.Over {
			return
		}
		p, err := parseRecord(r.Data, fn.Options)
		if err != nil {
			return
		}
		k := shardio.ShardOf(p.ID, idBuckets)
		if blocks[k] == nil {
			blocks[k] = &idBlock{Source: r.Source}
		}
		blocks[k].add(p.ID, place{Source: r.Source, Line: r.Line, Record: r.Record})
		if held++; held == idBlockRecords {
			flush()
		}
	}, func(int64, string, string) {})
	if err != nil {
		return err
	}
	flush()
	return nil
}

// duplicatesFn names, in a bucket of ids, every record of an id but the
// first (by file, then position).
type duplicatesFn struct{}

func (fn *duplicatesFn) ProcessElement(_ int, iter func(*idBlock) bool, emit func(duplicate)) {
	var all []idPlace
	var b idBlock
	for iter(&b) {
		for i, id := range b.IDs {
			all = append(all, idPlace{ID: id, At: place{Source: b.Source, Line: b.Lines[i], Record: b.Records[i]}})
		}
	}
	sort.Slice(all, func(i, j int) bool {
		if all[i].ID != all[j].ID {
			return all[i].ID < all[j].ID
		}
		return all[i].At.before(all[j].At)
	})
	first := 0 // the first record of the current id
	for i := 1; i < len(all); i++ {
		if all[i].ID != all[first].ID {
			first = i
			continue
		}
		emit(duplicate{ID: all[i].ID, At: all[i].At, First: all[first].At})
	}
}
