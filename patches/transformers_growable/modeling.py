"""Layer-mapped, sliceable execution shared by the patched Llama and Phi3 models.

`GrowableModelMixin` goes in front of a family's base model (`LlamaModel`, `Phi3Model`) and
`GrowableCausalLMMixin` in front of its `*ForCausalLM`. Upstream layers, attention and MLP modules
are used unchanged; only the norms are swapped (for `norm_divisor`) and the layer loop is rewritten
so that it can run a range of executed positions `[start, stop)` and follow a layer map.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import nn
from transformers.cache_utils import DynamicCache
from transformers.masking_utils import create_causal_mask, create_sliding_window_causal_mask
from transformers.modeling_outputs import BaseModelOutputWithPast, CausalLMOutputWithPast
from transformers.modeling_utils import PreTrainedModel, slice_logits_to_keep
from transformers.utils import can_return_tuple
from transformers.utils.generic import merge_with_config_defaults
from transformers.utils.output_capturing import capture_outputs

from .cache_slot import CacheSlot
from .config import as_growable_config
from .norm import replace_norm

LayerRange = tuple[int, int]


def resolve_layer_range(config: Any, layer_range: LayerRange | None) -> LayerRange:
    """Check `[start, stop)` against the executed positions; None means the whole model."""
    total = config.num_hidden_layers
    if layer_range is None:
        return 0, total
    start, stop = (int(v) for v in layer_range)
    if not 0 <= start < stop <= total:
        raise ValueError(f"layer_range must satisfy 0 <= start < stop <= {total}, got {layer_range!r}")
    return start, stop


class GrowableModelMixin:
    """Base-model behaviour: divisor norms, stored layers only, range- and map-aware forward."""

    norm_class: ClassVar[type[nn.Module]]
    config_class: ClassVar[type]

    def __init__(self, config: Any, *args: Any, **kwargs: Any) -> None:
        super().__init__(as_growable_config(config, self.config_class), *args, **kwargs)
        self._install_growable_layers()

    def _install_growable_layers(self) -> None:
        """Swap norms for divisor norms and keep only the stored layers (upstream built one per position)."""
        config = self.config
        divisor = float(config.norm_divisor) if config.norm_divisor is not None else None
        for layer in self.layers:
            layer.input_layernorm = replace_norm(layer.input_layernorm, self.norm_class, divisor)
            layer.post_attention_layernorm = replace_norm(layer.post_attention_layernorm, self.norm_class, divisor)
        self.norm = replace_norm(self.norm, self.norm_class, divisor)
        if config.num_stored_layers != len(self.layers):
            self.layers = nn.ModuleList(list(self.layers)[: config.num_stored_layers])

    def _causal_mask(self, **kwargs: Any) -> Any:
        if getattr(self.config, "sliding_window", None) is not None:
            return create_sliding_window_causal_mask(config=self.config, **kwargs)
        return create_causal_mask(config=self.config, **kwargs)

    @merge_with_config_defaults
    @capture_outputs
    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        attention_mask: torch.Tensor | None = None,
        position_ids: torch.LongTensor | None = None,
        past_key_values: Any | None = None,
        inputs_embeds: torch.Tensor | None = None,
        use_cache: bool | None = None,
        layer_range: LayerRange | None = None,
        **kwargs: Any,
    ) -> BaseModelOutputWithPast:
        """Run executed positions `layer_range` (default all).

        The first slice takes `input_ids` (or `inputs_embeds`); a later slice takes the previous
        slice's output as `inputs_embeds`. The final norm runs only on the slice that ends the model.
        """
        start, stop = resolve_layer_range(self.config, layer_range)
        if (input_ids is None) ^ (inputs_embeds is not None):
            raise ValueError("You must specify exactly one of input_ids or inputs_embeds")
        if start > 0 and input_ids is not None:
            raise ValueError(f"a slice starting at position {start} takes hidden states as inputs_embeds")
        if inputs_embeds is None:
            inputs_embeds = self.embed_tokens(input_ids)
        if use_cache and past_key_values is None:
            past_key_values = DynamicCache(config=self.config)
        if position_ids is None:
            past_seen = past_key_values.get_seq_length() if past_key_values is not None else 0
            position_ids = torch.arange(inputs_embeds.shape[1], device=inputs_embeds.device) + past_seen
            position_ids = position_ids.unsqueeze(0)
        causal_mask = self._causal_mask(
            inputs_embeds=inputs_embeds,
            attention_mask=attention_mask,
            past_key_values=past_key_values,
            position_ids=position_ids,
        )
        hidden_states = inputs_embeds
        position_embeddings = self.rotary_emb(hidden_states, position_ids=position_ids)
        mapped = self.config.layer_map is not None
        for position in range(start, stop):
            layer = self.layers[self.config.stored_layer_at(position)]
            cache = CacheSlot(past_key_values, position) if mapped and past_key_values is not None else past_key_values
            hidden_states = layer(
                hidden_states,
                attention_mask=causal_mask,
                position_embeddings=position_embeddings,
                position_ids=position_ids,
                past_key_values=cache,
                use_cache=use_cache,
                **kwargs,
            )
        if stop == self.config.num_hidden_layers:
            hidden_states = self.norm(hidden_states)
        return BaseModelOutputWithPast(last_hidden_state=hidden_states, past_key_values=past_key_values)


class GrowableCausalLMMixin:
    """Causal-LM behaviour: `lm_head` and loss only on the slice that ends the model."""

    config_class: ClassVar[type]
    base_model_class: ClassVar[type[nn.Module]]

    def __init__(self, config: Any) -> None:
        """Upstream's layout (`model`, `lm_head`), built on the patched base model.

        `PreTrainedModel.__init__` is called directly because upstream's `__init__` would first
        build (and allocate) a stock base model that is then thrown away.
        """
        config = as_growable_config(config, self.config_class)
        PreTrainedModel.__init__(self, config)
        self.model = self.base_model_class(config)
        self.vocab_size = config.vocab_size
        self.lm_head = nn.Linear(config.hidden_size, config.vocab_size, bias=False)
        self.post_init()

    @can_return_tuple
    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        attention_mask: torch.Tensor | None = None,
        position_ids: torch.LongTensor | None = None,
        past_key_values: Any | None = None,
        inputs_embeds: torch.Tensor | None = None,
        labels: torch.LongTensor | None = None,
        use_cache: bool | None = None,
        logits_to_keep: int | torch.Tensor = 0,
        layer_range: LayerRange | None = None,
        **kwargs: Any,
    ) -> CausalLMOutputWithPast | BaseModelOutputWithPast:
        """As upstream; with a `layer_range` that stops early, returns the hidden states (no logits)."""
        _, stop = resolve_layer_range(self.config, layer_range)
        outputs = self.model(
            input_ids=input_ids,
            attention_mask=attention_mask,
            position_ids=position_ids,
            past_key_values=past_key_values,
            inputs_embeds=inputs_embeds,
            use_cache=use_cache,
            layer_range=layer_range,
            **kwargs,
        )
        if stop < self.config.num_hidden_layers:
            return outputs
        hidden_states = slice_logits_to_keep(outputs.last_hidden_state, logits_to_keep)
        logits = self.lm_head(hidden_states)
        loss = None
        if labels is not None:
            loss = self.loss_function(logits=logits, labels=labels, vocab_size=self.config.vocab_size, **kwargs)
        return CausalLMOutputWithPast(
            loss=loss,
            logits=logits,
            past_key_values=outputs.past_key_values,
            hidden_states=outputs.hidden_states,
            attentions=outputs.attentions,
        )
