#!/usr/bin/env python3
"""List the Jinja features each template uses, from jinja2's own parse tree.

Run from this folder:  python3 template_features.py   (writes features.json)
Uses hf_env's environment (so {% generation %} parses) and manifest.json's template list.
"""
import json
import os
import re
import sys

from jinja2 import nodes

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import hf_env  # noqa: E402

BINOPS = {nodes.Add: "+", nodes.Sub: "-", nodes.Mul: "*", nodes.Div: "/", nodes.FloorDiv: "//",
          nodes.Mod: "%", nodes.Pow: "**", nodes.Concat: "~", nodes.And: "and", nodes.Or: "or"}


def expr(n) -> str:
    if isinstance(n, nodes.Const):
        return repr(n.value)
    if isinstance(n, nodes.Name):
        return n.name
    if isinstance(n, nodes.Getattr):
        return expr(n.node) + "." + n.attr
    return type(n).__name__


def analyse(src: str) -> dict:
    env = hf_env.make_environment()
    ast = env.parse(src)
    f = {k: set() for k in ["statements", "filters", "tests", "methods", "loop_attrs", "operators",
                            "calls", "literals", "expressions", "filter_calls_with_args", "string_escapes"]}
    macros = set()
    for n in ast.find_all(nodes.Node):
        t = type(n)
        if t in (nodes.For, nodes.If, nodes.Macro, nodes.FilterBlock, nodes.With,
                 nodes.Include, nodes.Import, nodes.FromImport, nodes.Block, nodes.Extends, nodes.ScopedEvalContextModifier):
            f["statements"].add(t.__name__.lower())
        if t is nodes.For:
            if n.else_:
                f["statements"].add("for-else")
            if n.test is not None:
                f["statements"].add("for-if-filter")
            if n.recursive:
                f["statements"].add("for-recursive")
            if isinstance(n.target, nodes.Tuple):
                f["statements"].add("for-tuple-unpack")
        if t is nodes.If and n.elif_:
            f["statements"].add("elif")
        if t is nodes.If and n.else_:
            f["statements"].add("else")
        if t is nodes.Assign:
            f["statements"].add("set" if not isinstance(n.target, nodes.NSRef) else "set-namespace-attr")
        if t is nodes.AssignBlock:
            f["statements"].add("set-block")
        if t in (nodes.Break, nodes.Continue):
            f["statements"].add(t.__name__.lower())
        if t is nodes.ExprStmt:
            f["statements"].add("do")
        if t is nodes.CallBlock:
            f["statements"].add("generation" if "generation" in repr(n.call) else "call-block")
        if t is nodes.Filter and n.name:
            f["filters"].add(n.name)
            if n.args or n.kwargs:
                f["filter_calls_with_args"].add(n.name + "(" + ", ".join(
                    [expr(a) for a in n.args] + [k.key + "=" + expr(k.value) for k in n.kwargs]) + ")")
        if t is nodes.Macro:
            if n.defaults:
                f["statements"].add("macro-default-args")
            macros.add(n.name)
        if t is nodes.Test:
            f["tests"].add(n.name)
        if t is nodes.Call:
            if isinstance(n.node, nodes.Getattr):
                f["methods"].add("." + n.node.attr + "()")
            elif isinstance(n.node, nodes.Name):
                f["calls"].add(n.node.name + "()")
            if n.kwargs:
                f["expressions"].add("call-with-kwargs")
        if t is nodes.Getattr and isinstance(n.node, nodes.Name) and n.node.name == "loop":
            f["loop_attrs"].add("loop." + n.attr)
        if t is nodes.Getitem:
            f["expressions"].add("slice" if isinstance(n.arg, nodes.Slice) else "subscript[]")
            if isinstance(n.arg, nodes.Slice) and n.arg.step is not None:
                f["expressions"].add("slice-with-step")
            if isinstance(n.arg, nodes.Neg) or (isinstance(n.arg, nodes.Const) and isinstance(n.arg.value, int) and n.arg.value < 0):
                f["expressions"].add("negative-index")
        if t is nodes.Getattr:
            f["expressions"].add("attr.access")
        if t in BINOPS:
            f["operators"].add(BINOPS[t])
        if t is nodes.Not:
            f["operators"].add("not")
        if t is nodes.Neg:
            f["operators"].add("unary-")
        if t is nodes.Compare:
            for op in n.ops:
                f["operators"].add({"eq": "==", "ne": "!=", "lt": "<", "lteq": "<=", "gt": ">", "gteq": ">=",
                                    "in": "in", "notin": "not in"}[op.op])
        if t is nodes.CondExpr:
            f["expressions"].add("inline-if" + ("" if n.expr2 is not None else "-without-else"))
        if t is nodes.List:
            f["literals"].add("list")
        if t is nodes.Dict:
            f["literals"].add("dict")
        if t is nodes.Tuple and n.ctx == "load":
            f["literals"].add("tuple")
        if t is nodes.Const:
            f["literals"].add(type(n.value).__name__)
        if t is nodes.Name and n.name in ("true", "false", "none", "True", "False", "None"):
            pass
    f["macros_defined"] = macros
    f["calls"] = {c + (" [macro]" if c[:-2] in macros else "") for c in f["calls"]}
    lexflags = set()
    # escape sequences inside string literals (Jinja decodes them with Python's unicode-escape)
    for _, tok, raw in env.lex(src):
        if tok == "string":
            for e in re.findall(r"\\(?:u[0-9a-fA-F]{4}|x[0-9a-fA-F]{2}|.)", raw, re.S):
                f["string_escapes"].add(e)
            if "\n" in raw:
                f["string_escapes"].add("raw-newline-inside-literal")
            if any(d in raw for d in ("{{", "}}", "{%", "%}", "{#", "#}")):
                lexflags.add("tag-delimiters-inside-string-literal")
    # lexical features
    lex = set(lexflags)
    if re.search(r"\{%-|-%\}|\{\{-|-\}\}", src):
        lex.add("whitespace-control (-)")
    if "{#" in src:
        lex.add("comments")
    if re.search(r"\{%\+|\+%\}", src):
        lex.add("plus-modifier")
    if "{% raw" in src or "{%- raw" in src:
        lex.add("raw")
    if src.endswith("\n"):
        lex.add("trailing-newline (dropped: keep_trailing_newline=False)")
    f["lexical"] = lex
    # names of variables read from the render context
    from jinja2 import meta
    f["context_vars"] = set(meta.find_undeclared_variables(ast))
    return {k: sorted(v) for k, v in f.items()}


def main():
    with open(os.path.join(HERE, "manifest.json"), encoding="utf-8") as fh:
        manifest = json.load(fh)
    out = {}
    for t in manifest["templates"]:
        path = os.path.normpath(os.path.join(HERE, t["file"].split("#")[0]))
        if t["external"]:
            with open(path, encoding="utf-8") as fh:
                src = json.load(fh)[t["file"].split("#")[1]]
        else:
            with open(path, encoding="utf-8", newline="") as fh:
                src = fh.read()
        out[t["name"]] = analyse(src)
    with open(os.path.join(HERE, "features.json"), "w", encoding="utf-8", newline="\n") as fh:
        json.dump(out, fh, ensure_ascii=False, indent=1, sort_keys=True)
        fh.write("\n")
    for name, f in out.items():
        print("##", name)
        for k, v in f.items():
            if v:
                print("  ", k + ":", ", ".join(v))


if __name__ == "__main__":
    main()
