// Package schemas holds srdpo's Arrow contracts: one Go row type per file,
// the Arrow schema derived from it, schema metadata keys, and validation.
//
// A row type's fields carry an `arrow:"column_name"` tag; the Arrow schema,
// the encoder and the decoder all come from that one declaration, so each
// column is defined in exactly one place.
package schemas
