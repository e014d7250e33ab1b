"""Reference chat-template environment: a faithful copy of the Jinja environment that
Hugging Face transformers' ``apply_chat_template`` renders with.

Source read (transformers, ``src/transformers/utils/chat_template_utils.py``,
functions ``_compile_jinja_template`` / ``_cached_compile_jinja_template`` and
``render_jinja_template``; ``src/transformers/tokenization_utils_base.py``,
``apply_chat_template`` / ``get_chat_template`` / ``special_tokens_map``).
See README.md next to this file for the exact versions read.

What transformers does, and what this module reproduces:

* ``jinja2.sandbox.ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
  extensions=[AssistantTracker, jinja2.ext.loopcontrols])``; every other option is
  Jinja's default (autoescape off, keep_trailing_newline=False, Undefined = the
  lenient ``jinja2.Undefined``, ``{{ }}`` / ``{% %}`` / ``{# #}`` delimiters).
* ``env.filters["tojson"]`` replaced by ``json.dumps(x, ensure_ascii=False,
  indent=indent, separators=separators, sort_keys=sort_keys)`` (no HTML escaping,
  returns a plain ``str``).
* ``env.globals["raise_exception"]`` raises ``jinja2.exceptions.TemplateError(message)``.
* ``env.globals["strftime_now"](fmt)`` returns ``datetime.now().strftime(fmt)``.
  HERE IT IS PINNED: it formats the fixed naive instant ``FIXED_NOW`` =
  2024-07-26 12:00:00 (taken as UTC), so the outputs are reproducible.
  transformers itself uses the machine's local ``datetime.now()``.
* The ``{% generation %} ... {% endgeneration %}`` tag (AssistantTracker) renders its
  body unchanged (it only records character spans when
  ``return_assistant_tokens_mask=True``).
* ``template.render(messages=..., tools=..., documents=..., add_generation_prompt=...,
  **{**special_tokens_map, **kwargs})``: ``tools`` and ``documents`` are ALWAYS passed
  (as ``None`` when not given), so ``tools is defined`` is true even without tools;
  special tokens come first and user kwargs override them.

Interface (stable; other scripts import it):

    render(template, messages, add_generation_prompt=False, tools=None, documents=None,
           special_tokens={}, *, continue_final_message=False, **kwargs) -> str

It raises whatever transformers would raise (``jinja2.exceptions.TemplateError`` with
the template's own message for ``raise_exception``; other Jinja / Python errors as-is;
``ValueError`` for the continue_final_message checks).
"""

from __future__ import annotations

import copy
import json
from contextlib import contextmanager
from datetime import datetime
from functools import lru_cache

import jinja2
import jinja2.ext
import jinja2.nodes
from jinja2.ext import Extension
from jinja2.sandbox import ImmutableSandboxedEnvironment

# strftime_now is pinned to this instant (naive, meaning 2024-07-26T12:00:00 UTC).
FIXED_NOW = datetime(2024, 7, 26, 12, 0, 0)

# PreTrainedTokenizerBase.SPECIAL_TOKENS_ATTRIBUTES: the names special_tokens_map can hold.
SPECIAL_TOKENS_ATTRIBUTES = [
    "bos_token",
    "eos_token",
    "unk_token",
    "sep_token",
    "pad_token",
    "cls_token",
    "mask_token",
    "additional_special_tokens",
]

# transformers >= 4.5x: text appended to the final message by continue_final_message.
CONTINUE_FINAL_MESSAGE_TAG = "CONTINUE_FINAL_MESSAGE_TAG "


class AssistantTracker(Extension):
    """Same parse/render behaviour as transformers' AssistantTracker."""

    tags = {"generation"}

    def __init__(self, environment):
        super().__init__(environment)
        environment.extend(activate_tracker=self.activate_tracker)
        self._rendered_blocks = None
        self._generation_indices = None

    def parse(self, parser):
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(["name:endgeneration"], drop_needle=True)
        return jinja2.nodes.CallBlock(self.call_method("_generation_support"), [], [], body).set_lineno(lineno)

    @jinja2.pass_eval_context
    def _generation_support(self, context, caller):
        rv = caller()
        if self.is_active():
            start_index = len("".join(self._rendered_blocks))
            end_index = start_index + len(rv)
            self._generation_indices.append((start_index, end_index))
        return rv

    def is_active(self) -> bool:
        return self._rendered_blocks is not None or self._generation_indices is not None

    @contextmanager
    def activate_tracker(self, rendered_blocks, generation_indices):
        try:
            if self.is_active():
                raise ValueError("AssistantTracker should not be reused before closed")
            self._rendered_blocks = rendered_blocks
            self._generation_indices = generation_indices
            yield
        finally:
            self._rendered_blocks = None
            self._generation_indices = None


def raise_exception(message):
    raise jinja2.exceptions.TemplateError(message)


def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)


def strftime_now(format):
    return FIXED_NOW.strftime(format)


def make_environment() -> ImmutableSandboxedEnvironment:
    env = ImmutableSandboxedEnvironment(
        trim_blocks=True, lstrip_blocks=True, extensions=[AssistantTracker, jinja2.ext.loopcontrols]
    )
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now
    return env


@lru_cache(maxsize=None)
def compile_template(template: str):
    return make_environment().from_string(template)


def special_tokens_map(special_tokens: dict | None) -> dict:
    """Like tokenizer.special_tokens_map: keeps only set (truthy) values, as strings.

    Accepts tokenizer_config.json style values too ({"content": ...} AddedToken dicts).
    Keys other than SPECIAL_TOKENS_ATTRIBUTES are kept as given (callers decide)."""
    out = {}
    for key, value in (special_tokens or {}).items():
        if isinstance(value, dict) and "content" in value:
            value = value["content"]
        elif isinstance(value, list):
            value = [v["content"] if isinstance(v, dict) and "content" in v else v for v in value]
        if value:
            out[key] = value
    return out


def render(
    template: str,
    messages,
    add_generation_prompt: bool = False,
    tools=None,
    documents=None,
    special_tokens: dict = {},
    *,
    continue_final_message: bool | str = False,
    **kwargs,
) -> str:
    """Render one conversation exactly as apply_chat_template(tokenize=False) would."""
    if continue_final_message and add_generation_prompt:
        raise ValueError(
            "continue_final_message and add_generation_prompt are not compatible. Use continue_final_message when "
            "you want the model to continue the final message, and add_generation_prompt when you want to add a "
            "header that will prompt it to start a new assistant message instead."
        )
    if documents is not None:
        for document in documents:
            if not isinstance(document, dict):
                raise TypeError("Documents should be a list of dicts with 'title' and 'text' keys!")

    compiled = compile_template(template)
    template_kwargs = {**special_tokens_map(special_tokens), **kwargs}

    chat = messages
    final_message = None
    if continue_final_message:
        # transformers' current algorithm (render_jinja_template): append a tag, cut at it.
        chat = copy.deepcopy(messages)
        field = continue_final_message if isinstance(continue_final_message, str) else "content"
        if (final_message := chat[-1].get(field)) is None:
            raise ValueError(f'continue_final_message is set but the final message has no "{field}" to continue!')
        if field not in template:
            raise ValueError(
                f'continue_final_message is set to "{field}" but this is not an accepted field in the chat_template'
            )
        elif isinstance(final_message, (list, tuple)):
            for block in reversed(final_message):
                if "text" in block:
                    final_message = block["text"]
                    block["text"] = block["text"] + CONTINUE_FINAL_MESSAGE_TAG
                    break
            else:
                raise ValueError(
                    "continue_final_message is set but we could not find any text to continue in the final message!"
                )
        else:
            chat[-1][field] = chat[-1][field] + CONTINUE_FINAL_MESSAGE_TAG

    rendered = compiled.render(
        messages=chat,
        tools=tools,
        documents=documents,
        add_generation_prompt=add_generation_prompt,
        **template_kwargs,
    )

    if continue_final_message:
        tag = CONTINUE_FINAL_MESSAGE_TAG
        if (final_message.strip() not in rendered) or (tag.strip() not in rendered):
            raise ValueError(
                "continue_final_message is set but the final message does not appear in the chat after "
                "applying the chat template! This can happen if the chat template deletes portions of "
                "the final message. Please verify the chat template and final message in your chat to "
                "ensure they are compatible."
                f"Final message to continue: {final_message.strip()}\nRendered chat:\n{rendered}"
            )
        tag_loc = rendered.rindex(tag.strip())
        if rendered[tag_loc : tag_loc + len(tag)] == tag:
            rendered = rendered[:tag_loc]
        else:
            rendered = rendered[:tag_loc].rstrip()
    return rendered


def select_template(chat_template, name: str | None = None, tools=None) -> str:
    """tokenizer.get_chat_template: pick a template from a str, a {name: template} dict, or the
    tokenizer_config.json list form [{"name": ..., "template": ...}]."""
    if isinstance(chat_template, list):
        chat_template = {t["name"]: t["template"] for t in chat_template}
    if isinstance(chat_template, dict):
        if name is not None and name in chat_template:
            return chat_template[name]
        if name is None:
            if tools is not None and "tool_use" in chat_template:
                return chat_template["tool_use"]
            if "default" in chat_template:
                return chat_template["default"]
            raise ValueError(
                "This model has multiple chat templates with no default specified! Please either pass a chat "
                "template or the name of the template you wish to use to the `chat_template` argument. Available "
                f"template names are {sorted(chat_template.keys())}."
            )
        return name  # a name not in the dict is taken as a template string itself
    if name is not None:
        return name
    if chat_template is None:
        raise ValueError(
            "Cannot use chat template functions because tokenizer.chat_template is not set and no template "
            "argument was passed! For information about writing templates and setting the "
            "tokenizer.chat_template attribute, please see the documentation at "
            "https://huggingface.co/docs/transformers/main/en/chat_templating"
        )
    return chat_template


if __name__ == "__main__":
    print(render("{{ bos_token }}{% for m in messages %}[{{ m.role }}]{{ m.content }}{% endfor %}{{ strftime_now('%d %b %Y') }}",
                 [{"role": "user", "content": "hi"}], special_tokens={"bos_token": "<s>", "unk_token": None}))
