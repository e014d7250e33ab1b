# Writes strings.jsonl: the test strings whose ids reference.js derives
# from Hugging Face's tokenizers. Seeded; run with python3 make_strings.py.
import json, random, unicodedata

hand = [
    "", " ", "  ", "\n", "\n\n", "\t", " \t\n ", "a", "Hello world", "Hello  world", "Hello   world  ",
    "  leading spaces", "trailing spaces   ", "tabs\tand\t\ttabs", "new\nline", "new\n\nlines\n\n\n", "crlf\r\nline\r\n",
    "It's we're they've I'm you'll he'd", "IT'S WE'RE THEY'VE I'M YOU'LL HE'D", "don't 'tis ''' rock'n'roll",
    "1", "12", "123", "1234", "12345", "123456789", "3.14159", "1,000,000", "-42", "0x1F", "2024-12-01", "v1.2.3",
    "phone: 555-0100 ext 12", "١٢٣٤٥ ٦٧٨", "１２３４５", "½ ⅓ ¼ Ⅻ ²³",
    "<|endoftext|>", "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n", "<s>Hello</s>", "<s> Hello </s>",
    "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>", "text<|endoftext|>more", "<|endoftext|><|endoftext|>",
    "<unk>", "<|im_start|>", "< |im_start| >", "<|im_start", "[INST] Hi [/INST]",
    "def f(x):\n    return x ** 2\n", "if (a && b) { return c; }\n\t// comment", "for i in range(10):\n\tprint(i)",
    "SELECT * FROM t WHERE id = 5;", "<html><body class=\"x\">Hi</body></html>", "x = [1, 2, 3]  # list",
    "$ echo \"hello\" | grep -o 'l'", "a\\b\\c", "C:\\Users\\me", "https://example.com/path?q=1&r=2",
    "你好，世界！", "日本語のテキストです。", "한국어 문장입니다.", "中文 English 混合 text", "汉字123数字",
    "😀", "👋 hi", "hi 👋!", "👨‍👩‍👧‍👦 family", "👍🏽 ok", "🇫🇷 flag", "emoji😀in😀text", "❤️ love",
    "café", "cafe\u0301", "naïve résumé", "nai\u0308ve re\u0301sume\u0301", "Ångström", "A\u030angstro\u0308m",
    "ﬁ ligature", "Ｆｕｌｌｗｉｄｔｈ", "ß straße STRASSE", "İstanbul ıi", "ſ long s", "K Kelvin",
    "Привет, мир!", "Γειά σου Κόσμε", "مرحبا بالعالم", "שלום עולם", "नमस्ते दुनिया", "สวัสดีชาวโลก",
    "\u00a0nbsp\u00a0here", "em\u2003space", "ideographic\u3000space", "line\u2028sep", "para\u2029sep", "nel\u0085char",
    "zero\u200bwidth", "joiner\u200dnon\u200cjoiner", "bom\ufeffinside", "soft\u00adhyphen",
    "\x00nul", "bell\x07", "esc\x1b[31mred\x1b[0m", "del\x7f", "\x01\x02\x03", "c1\u0080\u009f",
    "combining ◌̰ mark", "a\u0300\u0301\u0302", "Z̤͔ͧ̑̓ä͖̭̈̇lͮ̒ͫǧ̗͚̚o̙̔ͮ̇͐̇",
    "\ud7ff\ue000\uffff", "\U0001F600\U00010000\U0010FFFD", "math 𝑥 + 𝑦 = 𝑧", "∀x ∈ ℝ: x² ≥ 0",
    "!!!???...", "--- *** ___", "a.b,c;d:e!f?g", "(parens) [brackets] {braces}", "\"quoted\" 'single'",
    "   \n   \n", " \n", "\n ", "word\n    indented", "x  \n  y", "end.  ", ".\n\n\nHuman: hi\n\nAssistant: hello",
    "Human: What is 2+2?\n\nAssistant: 4", "The quick brown fox jumps over the lazy dog.",
    "supercalifragilisticexpialidocious", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "ababababababababababab",
    "▁already▁metaspace", "▁", "Ġ", "Ċ", "<0x41>", "mask <mask> here", "<mask>x", "x<mask>", " <mask> ",
    "[R]  after", "a [R]\n\nb", "tab\t<mask>\tend",
]

rng = random.Random(20261201)
alphabet = [
    "abcdefghijklmnopqrstuvwxyz", "ABCDEFGHIJKLMNOPQRSTUVWXYZ", "0123456789", " ", "  ", "\n", "\t", "'",
    ".,;:!?-_()[]{}\"/\\@#$%^&*+=<>|~`", "éèêëàâäôöûüçñ", "你好世界中文字", "こんにちは", "😀👋🏽❤️🇫🇷",
    "\u00a0\u3000\u2028", "٠١٢", "Ωπσ", "<|endoftext|>", "<|im_start|>", "<s>", "</s>", "'s", "'LL", "\r\n",
]

def rand_string():
    n = rng.randint(1, 12)
    parts = []
    for _ in range(n):
        pool = rng.choice(alphabet)
        if len(pool) > 3 and not pool.startswith("<"):
            k = rng.randint(1, 8)
            parts.append("".join(rng.choice(pool) for _ in range(k)))
        else:
            parts.append(pool)
    s = "".join(parts)
    if rng.random() < 0.2:
        s = unicodedata.normalize("NFD", s)
    return s

def rand_unicode():
    out = []
    for _ in range(rng.randint(1, 10)):
        while True:
            cp = rng.choice([rng.randint(0x20, 0x7e), rng.randint(0xa0, 0x2fff), rng.randint(0x3000, 0xd7ff),
                             rng.randint(0xe000, 0xfffd), rng.randint(0x10000, 0x1faff)])
            if unicodedata.category(chr(cp)) not in ("Cs", "Cn"):
                break
        out.append(chr(cp))
    return "".join(out)

strings = list(hand)
while len(strings) < 260:
    strings.append(rand_string())
while len(strings) < 320:
    strings.append(rand_unicode())

with open("strings.jsonl", "w") as f:
    for s in strings:
        f.write(json.dumps(s) + "\n")
print(len(strings), "strings")
