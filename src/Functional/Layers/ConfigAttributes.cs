using Functional.Functions;
namespace Functional.Layers;

/// <summary>
/// Marks a layer property whose config key Keras writes only when it is set (Keras's <c>get_config</c> adds
/// <c>lora_rank</c> and <c>lora_alpha</c> only for a LoRA layer): the key is left out of the config while the value is
/// <c>null</c>, and a missing key reads back as <c>null</c>.
/// </summary>
[AttributeUsage(AttributeTargets.Property)]
internal sealed class ConfigOmittedWhenNullAttribute : Attribute;
