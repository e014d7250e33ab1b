#!/usr/bin/env python3
"""Writes the PEFT adapter fixtures of model/peft_fixture_test.go, with the
standard library only, from PEFT's own rules rather than srdpo's writer:

- tensor names: get_peft_model_state_dict (peft/utils/save_and_load.py,
  huggingface/peft@6b2556e6) saves "base_model.model." + the causal LM's
  module name + ".lora_A.weight" / ".lora_B.weight";
- shapes: lora_A is nn.Linear(in, r) (weight [r, in]), lora_B is
  nn.Linear(r, out) (weight [out, r]), for GPT-2's Conv1D maps too, whose
  weight is [in, out] (peft/tuners/lora/layer.py, huggingface/peft@00336949);
- the merge: W += transpose(B @ A, fan_in_fan_out) * scaling, scaling =
  lora_alpha / r, or lora_alpha / sqrt(r) with use_rslora (layer.py,
  get_delta_weight and update_layer).

For each family it writes base/ (a Hugging Face model), adapter/ (a PEFT
adapter folder) and merged/ (the base with the adapter merged by the rule
above, in float64, stored as F32). Run from this folder:
python3 make_fixtures.py
"""
import json
import math
import os
import random
import struct


def write_safetensors(path, tensors):
    names = sorted(tensors)
    header, offset = {"__metadata__": {"format": "pt"}}, 0
    for n in names:
        shape, data = tensors[n]
        assert len(data) == math.prod(shape), n
        header[n] = {"dtype": "F32", "shape": shape, "data_offsets": [offset, offset + 4 * len(data)]}
        offset += 4 * len(data)
    hb = json.dumps(header, separators=(",", ":")).encode()
    hb += b" " * (-len(hb) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hb)))
        f.write(hb)
        for n in names:
            f.write(struct.pack("<%df" % len(tensors[n][1]), *tensors[n][1]))


def f32(x):
    return struct.unpack("<f", struct.pack("<f", x))[0]


def rand(rng, shape, std):
    return [f32(rng.gauss(0, std)) for _ in range(math.prod(shape))]


def write_model(dir, config, tensors):
    os.makedirs(dir, exist_ok=True)
    write_safetensors(os.path.join(dir, "model.safetensors"), tensors)
    with open(os.path.join(dir, "config.json"), "w") as f:
        json.dump(config, f, indent=2)


def family(name, config, base, maps, adapter_cfg, rng):
    """maps: module name → (weight name, in, out, fan_in_fan_out)."""
    r, alpha = adapter_cfg["r"], adapter_cfg["lora_alpha"]
    scaling = alpha / math.sqrt(r) if adapter_cfg["use_rslora"] else alpha / r
    adapter, merged = {}, {k: (s, list(v)) for k, (s, v) in base.items()}
    for module, (weight, n_in, n_out, fan_in_fan_out) in maps.items():
        a = rand(rng, [r, n_in], 1 / math.sqrt(n_in))
        b = rand(rng, [n_out, r], 0.5)  # trained: B is no longer zero
        adapter["base_model.model." + module + ".lora_A.weight"] = ([r, n_in], a)
        adapter["base_model.model." + module + ".lora_B.weight"] = ([n_out, r], b)
        shape, w = merged[weight]
        for o in range(n_out):
            for i in range(n_in):
                d = sum(b[o * r + k] * a[k * n_in + i] for k in range(r)) * scaling
                at = i * n_out + o if fan_in_fan_out else o * n_in + i  # transpose(B @ A) for Conv1D
                w[at] += d
        merged[weight] = (shape, [f32(x) for x in w])
    write_model(os.path.join(name, "base"), config, base)
    write_model(os.path.join(name, "merged"), config, merged)
    os.makedirs(os.path.join(name, "adapter"), exist_ok=True)
    write_safetensors(os.path.join(name, "adapter", "adapter_model.safetensors"), adapter)
    with open(os.path.join(name, "adapter", "adapter_config.json"), "w") as f:
        json.dump(adapter_cfg, f, indent=2)


def peft_config(r, alpha, targets, rslora, fan_in_fan_out):
    # The fields PeftModel.save_pretrained writes for a LoraConfig (a subset
    # of the defaults is enough to load).
    return {"peft_type": "LORA", "task_type": "CAUSAL_LM", "base_model_name_or_path": "tiny", "r": r,
            "lora_alpha": alpha, "lora_dropout": 0.0, "target_modules": targets, "use_rslora": rslora,
            "bias": "none", "fan_in_fan_out": fan_in_fan_out, "init_lora_weights": True, "inference_mode": True,
            "modules_to_save": None, "layers_to_transform": None, "rank_pattern": {}, "alpha_pattern": {},
            "use_dora": False, "revision": None}


def gpt2(rng):
    d, v, ctx, inner = 8, 16, 8, 32
    cfg = {"model_type": "gpt2", "architectures": ["GPT2LMHeadModel"], "activation_function": "gelu_new",
           "vocab_size": v, "n_positions": ctx, "n_ctx": ctx, "n_embd": d, "n_layer": 1, "n_head": 2,
           "n_inner": inner, "layer_norm_epsilon": 1e-5, "tie_word_embeddings": True}
    t = "transformer."
    base = {t + "wte.weight": ([v, d], rand(rng, [v, d], 0.5)), t + "wpe.weight": ([ctx, d], rand(rng, [ctx, d], 0.2))}
    for ln in ["h.0.ln_1", "h.0.ln_2", "ln_f"]:
        base[t + ln + ".weight"] = ([d], [f32(1 + 0.2 * rng.gauss(0, 1)) for _ in range(d)])
        base[t + ln + ".bias"] = ([d], rand(rng, [d], 0.1))
    for m, n_in, n_out in [("h.0.attn.c_attn", d, 3 * d), ("h.0.attn.c_proj", d, d), ("h.0.mlp.c_fc", d, inner), ("h.0.mlp.c_proj", inner, d)]:
        base[t + m + ".weight"] = ([n_in, n_out], rand(rng, [n_in, n_out], 0.3))  # Conv1D: [in, out]
        base[t + m + ".bias"] = ([n_out], rand(rng, [n_out], 0.1))
    maps = {t + "h.0.attn.c_attn": (t + "h.0.attn.c_attn.weight", d, 3 * d, True),
            t + "h.0.mlp.c_proj": (t + "h.0.mlp.c_proj.weight", inner, d, True)}
    family("gpt2", cfg, base, maps, peft_config(4, 8, ["c_attn", "mlp.c_proj"], False, True), rng)


def llama(rng):
    d, v, inner, heads, kv, hd = 8, 16, 12, 2, 1, 4
    cfg = {"model_type": "llama", "architectures": ["LlamaForCausalLM"], "vocab_size": v, "hidden_size": d,
           "intermediate_size": inner, "num_hidden_layers": 1, "num_attention_heads": heads,
           "num_key_value_heads": kv, "head_dim": hd, "max_position_embeddings": 8, "rms_norm_eps": 1e-6,
           "rope_theta": 10000, "hidden_act": "silu", "tie_word_embeddings": False, "attention_bias": False,
           "mlp_bias": False, "torch_dtype": "float32"}
    p = "model.layers.0."
    base = {"model.embed_tokens.weight": ([v, d], rand(rng, [v, d], 0.5)), "lm_head.weight": ([v, d], rand(rng, [v, d], 0.3))}
    for n in [p + "input_layernorm.weight", p + "post_attention_layernorm.weight", "model.norm.weight"]:
        base[n] = ([d], [f32(1 + 0.2 * rng.gauss(0, 1)) for _ in range(d)])
    shapes = {"self_attn.q_proj": (d, heads * hd), "self_attn.k_proj": (d, kv * hd), "self_attn.v_proj": (d, kv * hd),
              "self_attn.o_proj": (heads * hd, d), "mlp.gate_proj": (d, inner), "mlp.up_proj": (d, inner), "mlp.down_proj": (inner, d)}
    for m, (n_in, n_out) in shapes.items():
        base[p + m + ".weight"] = ([n_out, n_in], rand(rng, [n_out, n_in], 0.3))  # nn.Linear: [out, in]
    maps = {p + m: (p + m + ".weight", shapes[m][0], shapes[m][1], False) for m in ["self_attn.q_proj", "self_attn.v_proj", "mlp.down_proj"]}
    family("llama", cfg, base, maps, peft_config(2, 3, ["q_proj", "v_proj", "down_proj"], True, False), rng)


if __name__ == "__main__":
    gpt2(random.Random(1))
    llama(random.Random(2))
