using Functional.Shapes;
using Functional.Functions;
namespace Functional.Layers;

/// <summary>
/// Turns non-negative integer indices into dense vectors of a fixed size (Keras <c>Embedding</c>,
/// keras/src/layers/core/embedding.py): <c>[[4], [20]] → [[0.25, 0.1], [0.6, −0.2]]</c>.
/// </summary>
/// <remarks>
/// <para>Input: indices of any shape, usually <c>(batch, steps)</c> with the number of steps unknown; an <see cref="Input"/>
/// of dtype <c>int32</c>/<c>int64</c> passes them unchanged, floating values are truncated to integers as Keras casts them.
/// Output: the input's shape plus <c>(output_dim)</c>. One weight, <c>embeddings</c> of shape
/// <c>(input_dim, output_dim)</c>. An index outside <c>[0, input_dim)</c> is an <see cref="ArgumentException"/> naming the
/// layer and the index.</para>
/// <para>With <see cref="MaskZero"/> the output carries the mask <c>indices != 0</c> to the layers after it (recurrent
/// layers skip the masked steps).</para>
/// <para>With <see cref="LoraRank"/> r the layer looks indices up in <c>embeddings + (lora_embeddings_a ·
/// lora_embeddings_b) · LoraAlpha / r</c>: <c>embeddings</c> is frozen and the trainable <c>lora_embeddings_a</c>
/// (input_dim, r; he_uniform) and <c>lora_embeddings_b</c> (r, output_dim; zeros) are added, as Keras's <c>enable_lora</c>.</para>
/// </remarks>
public sealed record Embedding : Layer
{
    /// <summary>The <c>embeddings</c> weight's initializer, regularizer and constraint as one value.</summary>
    public WeightOptions Embeddings => new(EmbeddingsInitializer, EmbeddingsRegularizer, EmbeddingsConstraint);

    /// <summary>Keras's defaults: <c>uniform</c> (U[−0.05, 0.05)) embeddings, no regularizer or constraint, no mask.</summary>
    public Embedding(int inputDim, int outputDim, Initializer? embeddingsInitializer = null, Regularizer? embeddingsRegularizer = null,
        Regularizer? activityRegularizer = null, Constraint? embeddingsConstraint = null, bool maskZero = false,
        int? loraRank = null, double? loraAlpha = null)
    {
        InputDim = inputDim;
        OutputDim = outputDim;
        EmbeddingsInitializer = embeddingsInitializer ?? new RandomUniform();
        EmbeddingsRegularizer = embeddingsRegularizer;
        ActivityRegularizer = activityRegularizer;
        EmbeddingsConstraint = embeddingsConstraint;
        MaskZero = maskZero;
        LoraRank = loraRank;
        LoraAlpha = loraAlpha;
        ValidateLora();
        EndConstruction();
    }

    // Keras: "Lora is incompatible with embedding constraints"; re-checked after each `with` assignment.
    private void ValidateLora()
    {
        if (LoraRank is not null && EmbeddingsConstraint is not null)
            throw new ArgumentException(
                $"{ClassName}: LoRA is incompatible with embedding constraints. Received: loraRank={LoraRank}, " +
                $"embeddingsConstraint={EmbeddingsConstraint.ClassName}; remove the embeddings constraint to enable LoRA.", "loraRank");
    }

    /// <summary>The vocabulary size: the largest index plus one.</summary>
    public int InputDim { get; init => field = value > 0 ? value : throw ArgumentError("inputDim", value, "a strictly positive integer"); }

    /// <summary>The size of each embedding vector.</summary>
    public int OutputDim { get; init => field = value > 0 ? value : throw ArgumentError("outputDim", value, "a strictly positive integer"); }

    /// <summary>Initializer of <c>embeddings</c>; Keras's <c>uniform</c> (U[−0.05, 0.05)) by default.</summary>
    public Initializer EmbeddingsInitializer { get; init => field = value ?? throw ArgumentError("embeddingsInitializer", null, "an initializer"); }

    /// <summary>Penalty on <c>embeddings</c> (Keras <c>embeddings_regularizer</c>); none by default.</summary>
    public Regularizer? EmbeddingsRegularizer { get; init; }

    /// <summary>Constraint on <c>embeddings</c> (Keras <c>embeddings_constraint</c>); none by default.</summary>
    public Constraint? EmbeddingsConstraint { get; init { field = value; Recheck(ValidateLora); } }

    /// <summary>Whether index 0 is padding: the output's mask is <c>indices != 0</c> (Keras <c>mask_zero</c>).</summary>
    public bool MaskZero { get; init; }

    /// <summary>Keras's <c>lora_rank</c>: when set, <c>embeddings</c> is frozen and a trainable low-rank delta of this rank is
    /// added; null (the default) for a plain layer. Incompatible with an embeddings constraint.</summary>
    [ConfigOmittedWhenNull]
    public int? LoraRank { get; init { field = value is null or > 0 ? value : throw ArgumentError("loraRank", value, "a strictly positive integer or None"); Recheck(ValidateLora); } }

    /// <summary>Keras's <c>lora_alpha</c>: the delta is scaled by <c>LoraAlpha / LoraRank</c>; null means the rank.</summary>
    [ConfigOmittedWhenNull]
    public double? LoraAlpha { get; init => field = value is not { } a || double.IsFinite(a) ? value : throw ArgumentError("loraAlpha", value, "a finite number or None"); }

    /// <summary>Keras's <c>supports_masking</c> is <c>mask_zero</c>: the layer makes its own mask and ignores one it is given.</summary>
    public override bool SupportsMasking => MaskZero;

    /// <summary>Keras's <c>enable_lora(rank, lora_alpha)</c> for an immutable record: a copy with LoRA of that rank.</summary>
    /// <exception cref="InvalidOperationException">LoRA is already enabled.</exception>
    public Embedding EnableLora(int rank, double? loraAlpha = null)
    {
        Lora.RequireNotEnabled(this, LoraRank);
        return this with { LoraRank = rank, LoraAlpha = loraAlpha };
    }

    /// <inheritdoc />
    public override Shape ComputeOutputShape(Shape input) => new(input.Append((int?)OutputDim));

    /// <inheritdoc />
    public override IReadOnlyList<ParameterSpec> Parameters(Shape input)
    {
        var specs = new List<ParameterSpec> { Embeddings.Declare("embeddings", new Shape(InputDim, OutputDim), trainable: LoraRank is null) };
        if (LoraRank is { } rank)
        {
            specs.Add(new("lora_embeddings_a", new Shape(InputDim, rank), new HeUniform(), true, EmbeddingsRegularizer));
            specs.Add(new("lora_embeddings_b", new Shape(rank, OutputDim), new Zeros(), true, EmbeddingsRegularizer));
        }
        return specs;
    }
}
