package benchmarks

// EncodePair tokenises a loglikelihood request as the harness's Hugging
// Face model does (HFLM._encode_pair): whitespace ending the context moves to
// the continuation; the whole text is encoded at once (no special tokens)
// and split after as many tokens as the context alone encodes to, so a
// token that spans the boundary counts as context.
func EncodePair(encode func(string) ([]int32, error), context, continuation string) (ctx, cont []int32, err error) {
	n := len(pyRStrip(context))
	context, continuation = context[:n], context[n:]+continuation
	whole, err := encode(context + continuation)
	if err != nil {
		return nil, nil, err
	}
	alone, err := encode(context)
	if err != nil {
		return nil, nil, err
	}
	k := min(len(alone), len(whole))
	return whole[:k], whole[k:], nil
}
