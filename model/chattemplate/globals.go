package chattemplate

var globals = map[string]any{
	"range":           builtinFunc(globalRange),
	"namespace":       builtinFunc(globalNamespace),
	"dict":            builtinFunc(globalDict),
	"raise_exception": builtinFunc(globalRaise),
}

func globalRange(r *renderer, args []any, _ *Dict) (any, error) {
	var b [3]int64
	b[2] = 1
	for i, a := range args {
		n, ok := asInt(a)
		if !ok || i > 2 {
			return nil, failf("range() takes up to three integers")
		}
		b[i] = n
	}
	start, stop, step := b[0], b[1], b[2]
	if len(args) == 1 {
		start, stop = 0, b[0]
	}
	if step == 0 {
		return nil, failf("range() arg 3 must not be zero")
	}
	n := int64(0)
	if step > 0 && stop > start {
		n = (stop - start + step - 1) / step
	} else if step < 0 && stop < start {
		n = (start - stop - step - 1) / -step
	}
	if n > maxRange {
		return nil, failf("Range too big. The sandbox blocks ranges larger than MAX_RANGE (%d).", maxRange)
	}
	if err := r.built(16 * int(n)); err != nil {
		return nil, err
	}
	out := make([]any, n)
	for i := range out {
		out[i] = start + int64(i)*step
	}
	return out, nil
}

func globalNamespace(_ *renderer, args []any, kw *Dict) (any, error) {
	ns := &Namespace{attrs: NewDict()}
	for _, a := range args {
		d, ok := a.(*Dict)
		if !ok {
			return nil, failf("namespace() takes a mapping or keyword arguments")
		}
		for _, k := range d.keys {
			ns.attrs.Set(k, d.vals[k])
		}
	}
	for _, k := range kw.Keys() {
		v, _ := kw.Get(k)
		ns.attrs.Set(k, v)
	}
	return ns, nil
}

func globalDict(_ *renderer, args []any, kw *Dict) (any, error) {
	d := NewDict()
	for _, a := range args {
		src, ok := a.(*Dict)
		if !ok {
			return nil, failf("dict() takes a mapping or keyword arguments")
		}
		for _, k := range src.keys {
			d.Set(k, src.vals[k])
		}
	}
	for _, k := range kw.Keys() {
		v, _ := kw.Get(k)
		d.Set(k, v)
	}
	return d, nil
}

func globalRaise(_ *renderer, args []any, _ *Dict) (any, error) {
	if len(args) != 1 {
		return nil, failf("raise_exception takes one message")
	}
	return nil, &TemplateError{Msg: str(args[0])}
}
