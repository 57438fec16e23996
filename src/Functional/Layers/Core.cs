using Functional.Shapes;
using Functional.Functions;
namespace Functional.Layers;

/// <summary>The input of a model: the per-sample shape, batch excluded (Keras <c>Input(shape=…)</c>, class <c>InputLayer</c>).</summary>
/// <remarks>Output shape: the declared per-sample shape with a <c>None</c> batch dimension. No parameters.</remarks>
public sealed record Input : Layer
{
    /// <summary>Declares an input of the given per-sample shape.</summary>
    public Input(Shape shape) => Shape = shape ?? throw ArgumentError("shape", null, "a shape");

    /// <summary>Declares an input from its dimensions, e.g. <c>new Input(28, 28, 1)</c>.</summary>
    public Input(params int[] shape) : this(new Shape(shape)) { }

    /// <summary>Declares an input whose dimensions may be unknown (<c>null</c>, Keras's <c>None</c>), e.g. <c>new Input(null, null, 3)</c>.</summary>
    public Input(params int?[] shape) : this(new Shape(shape)) { }

    /// <summary>The per-sample shape.</summary>
    public Shape Shape { get; init => field = value ?? throw ArgumentError("shape", null, "a shape"); }

    /// <summary>
    /// The dtype of the tensors this input carries (Keras's <c>Input(dtype=…)</c>): the policy's variable dtype, so
    /// <c>float32</c> under the mixed policies (the first layer casts to its compute dtype), <c>float64</c> under float64,
    /// and <c>int32</c> etc. for an input of indices. Data of another dtype is cast to it when the model is called.
    /// </summary>
    public string TensorDtype => Dtype.VariableDtype;

    /// <inheritdoc />
    public override string ClassName => "InputLayer";

    /// <inheritdoc />
    public override Shape ComputeOutputShape(Shape input) => Shape;
}

/// <summary>A fully connected layer on the last axis: <c>activation(x · kernel + bias)</c> (Keras <c>Dense</c>).</summary>
/// <remarks>
/// <para>Input (…, in) → output (…, units). Parameters: in·units + units (in·units without bias).</para>
/// <para>With <see cref="LoraRank"/> r set (Keras's <c>lora_rank</c>), the layer computes with
/// <c>kernel + (lora_kernel_a · lora_kernel_b) · LoraAlpha / r</c>: the kernel is non-trainable and the trainable
/// <c>lora_kernel_a</c> (in, r) and <c>lora_kernel_b</c> (r, units) add r·(in + units) parameters — see <see cref="EnableLora"/>.</para>
/// </remarks>
public sealed record Dense : Layer
{
    /// <summary>The <c>kernel</c> weight's initializer, regularizer and constraint as one value.</summary>
    public WeightOptions Kernel => new(KernelInitializer, KernelRegularizer, KernelConstraint);
    /// <summary>The <c>bias</c> weight's initializer, regularizer and constraint as one value.</summary>
    public WeightOptions Bias => new(BiasInitializer, BiasRegularizer, BiasConstraint);


    /// <inheritdoc />
    public override bool SupportsMasking => true;

    /// <summary>Keras defaults: no activation, bias, <c>glorot_uniform</c> kernel, <c>zeros</c> bias.</summary>
    public Dense(int units, ActivationFunction? activation = null, bool useBias = true,
        Initializer? kernelInitializer = null, Initializer? biasInitializer = null,
        Regularizer? kernelRegularizer = null, Regularizer? biasRegularizer = null, Regularizer? activityRegularizer = null,
        Constraint? kernelConstraint = null, Constraint? biasConstraint = null, int? loraRank = null, double? loraAlpha = null)
    {
        Units = units;
        Activation = activation ?? ActivationFunction.Linear;
        UseBias = useBias;
        KernelInitializer = kernelInitializer ?? new GlorotUniform();
        BiasInitializer = biasInitializer ?? new Zeros();
        KernelRegularizer = kernelRegularizer;
        BiasRegularizer = biasRegularizer;
        ActivityRegularizer = activityRegularizer;
        KernelConstraint = kernelConstraint;
        BiasConstraint = biasConstraint;
        LoraRank = loraRank;
        LoraAlpha = loraAlpha;
        ValidateLora();
        EndConstruction();
    }

    // LoRA freezes the kernel, so Keras refuses a kernel constraint with it; re-checked after each `with` assignment.
    private void ValidateLora() => Lora.RequireNoKernelConstraint(this, LoraRank, KernelConstraint);

    /// <summary>The output width.</summary>
    public int Units { get; init => field = value > 0 ? value : throw ArgumentError("units", value, "a strictly positive integer"); }

    /// <summary>Applied to the output; <c>linear</c> by default.</summary>
    public ActivationFunction Activation { get; init => field = value ?? throw ArgumentError("activation", null, "an activation"); }

    /// <summary>Whether a bias is added (default true).</summary>
    public bool UseBias { get; init; }

    /// <summary>Kernel initializer; <c>glorot_uniform</c> by default.</summary>
    public Initializer KernelInitializer { get; init => field = value ?? throw ArgumentError("kernelInitializer", null, "an initializer"); }

    /// <summary>Bias initializer; <c>zeros</c> by default.</summary>
    public Initializer BiasInitializer { get; init => field = value ?? throw ArgumentError("biasInitializer", null, "an initializer"); }

    /// <summary>Penalty on the kernel (Keras <c>kernel_regularizer</c>); none by default.</summary>
    public Regularizer? KernelRegularizer { get; init; }

    /// <summary>Penalty on the bias (Keras <c>bias_regularizer</c>); none by default.</summary>
    public Regularizer? BiasRegularizer { get; init; }

    /// <summary>Constraint on the kernel (Keras <c>kernel_constraint</c>); none by default.</summary>
    public Constraint? KernelConstraint { get; init { field = value; Recheck(ValidateLora); } }

    /// <summary>Constraint on the bias (Keras <c>bias_constraint</c>); none by default.</summary>
    public Constraint? BiasConstraint { get; init; }

    /// <summary>
    /// Keras's <c>lora_rank</c>: when set, the kernel is frozen and a trainable low-rank delta of this rank is added to it
    /// (see <see cref="EnableLora"/>); <c>null</c> (the default) for a plain layer. Incompatible with a kernel constraint.
    /// </summary>
    [ConfigOmittedWhenNull]
    public int? LoraRank { get; init { field = value is null or > 0 ? value : throw ArgumentError("loraRank", value, "a strictly positive integer or None"); Recheck(ValidateLora); } }

    /// <summary>
    /// Keras's <c>lora_alpha</c>: the LoRA delta is scaled by <c>LoraAlpha / LoraRank</c>; <c>null</c> (the default) means
    /// the rank, i.e. a scale of 1. Ignored without <see cref="LoraRank"/>.
    /// </summary>
    [ConfigOmittedWhenNull]
    public double? LoraAlpha { get; init => field = value is not { } a || double.IsFinite(a) ? value : throw ArgumentError("loraAlpha", value, "a finite number or None"); }

    /// <summary>
    /// Keras's <c>enable_lora(rank, lora_alpha)</c> for an immutable record: returns a copy with <see cref="LoraRank"/> =
    /// <paramref name="rank"/> and <see cref="LoraAlpha"/> = <paramref name="loraAlpha"/> (null: the rank). Building the
    /// copy creates the frozen <c>kernel</c> plus trainable <c>lora_kernel_a</c> (he_uniform) and <c>lora_kernel_b</c>
    /// (zeros). To fine-tune trained weights, build the copy and load the original model's weights file into it: a file
    /// without the LoRA weights leaves them at their fresh values, which is Keras's load-then-<c>enable_lora</c>.
    /// </summary>
    /// <exception cref="ArgumentException">The rank is not positive, or the layer has a kernel constraint (as in Keras).</exception>
    /// <exception cref="InvalidOperationException">LoRA is already enabled (Keras allows it once per layer).</exception>
    public Dense EnableLora(int rank, double? loraAlpha = null)
    {
        Lora.RequireNotEnabled(this, LoraRank);
        var enabled = this with { LoraRank = rank, LoraAlpha = loraAlpha };
        Lora.RequireNoKernelConstraint(enabled, enabled.LoraRank, KernelConstraint);
        return enabled;
    }

    /// <inheritdoc />
    public override Shape ComputeOutputShape(Shape input)
    {
        if (input.Rank < 1) throw ShapeError(input, null, "expected an input of rank at least 1.");
        return input.With(-1, Units);
    }

    /// <inheritdoc />
    public override IReadOnlyList<ParameterSpec> Parameters(Shape input)
    {
        ComputeOutputShape(input);
        Lora.RequireNoKernelConstraint(this, LoraRank, KernelConstraint);
        var kernel = new Shape(KnownDim(input, -1, "last dimension of the inputs to a Dense layer"), Units);
        var specs = new List<ParameterSpec> { Kernel.Declare("kernel", kernel, trainable: LoraRank is null) };
        if (UseBias) specs.Add(Bias.Declare("bias", new Shape(Units)));
        if (LoraRank is { } rank) specs.AddRange(Lora.AdapterSpecs(kernel, rank, KernelRegularizer));
        return specs;
    }
}

/// <summary>Applies an activation function (Keras <c>Activation</c>). Shape unchanged, no parameters.</summary>
/// <remarks>Input shape: any. Output shape: the same. No parameters.</remarks>
public sealed record Activation : Layer
{
    /// <inheritdoc />
    public override bool SupportsMasking => true;

    /// <summary>Creates the layer for an activation name or value, e.g. <c>new Activation("softmax")</c>.</summary>
    public Activation(ActivationFunction activation) => Function = activation;

    /// <summary>The activation applied.</summary>
    public ActivationFunction Function { get; init => field = value ?? throw ArgumentError("activation", null, "an activation"); }

    /// <inheritdoc />
    public override Shape ComputeOutputShape(Shape input) => input;
}

/// <summary>Randomly zeroes a fraction <see cref="Rate"/> of inputs during training and scales the rest by 1/(1 − rate) (Keras <c>Dropout</c>).</summary>
/// <remarks>Identity at inference. Shape unchanged, no parameters.</remarks>
public sealed record Dropout : Layer
{
    /// <inheritdoc />
    public override bool SupportsMasking => true;

    /// <summary>Creates the layer; <paramref name="rate"/> must lie in [0, 1].</summary>
    public Dropout(double rate, int? seed = null)
    {
        Rate = rate;
        Seed = seed;
    }

    /// <summary>The fraction of inputs to drop, in [0, 1].</summary>
    public double Rate { get; init => field = value is >= 0 and <= 1 ? value : throw ArgumentError("rate", value, "a float value between 0 and 1"); }

    /// <summary>Seed for the dropout mask; <c>null</c> uses the global generator.</summary>
    public int? Seed { get; init; }

    /// <summary>
    /// Keras's <c>noise_shape</c>: the shape of the keep/drop mask, <em>batch axis included</em>, broadcast against the input;
    /// <c>-1</c> stands for Keras's <c>None</c> (that axis's size is taken from the input). E.g. <c>(-1, 1, 1, 1)</c> — Keras's
    /// <c>(None, 1, 1, 1)</c> — drops whole samples of an image batch (EfficientNet's drop-connect). Not given by default: an
    /// independent mask per element.
    /// </summary>
    public IntTuple NoiseShape
    {
        get;
        init => field = value.All(d => d == -1 || d >= 1)
            ? value
            : throw ArgumentError("noiseShape", value, "a tuple of positive integers, with -1 for None (the input's size on that axis)");
    }

    /// <inheritdoc />
    public override Shape ComputeOutputShape(Shape input)
    {
        if (NoiseShape.Count == 0) return input;
        if (NoiseShape.Count != input.Rank + 1)
            throw ShapeError(input, null,
                $"noiseShape={NoiseShape} has {NoiseShape.Count} entries, but the input has rank {input.Rank + 1} counting the batch axis.");
        for (var d = 0; d < input.Rank; d++)
            if (NoiseShape[d + 1] is var n && n != -1 && n != 1 && input[d] is { } size && n != size)
                throw ShapeError(input, d, $"noiseShape={NoiseShape} cannot broadcast against the input: {n} on an axis of size {input[d]}.");
        return input;
    }
}

/// <summary>Flattens each sample into one axis (Keras <c>Flatten</c>). No parameters.</summary>
/// <remarks>Input (d1, …, dn) → output (d1·…·dn). With <c>channels_first</c>, channels are moved last before flattening, as Keras does.</remarks>
public sealed record Flatten : Layer
{
    /// <summary>Creates the layer; <paramref name="dataFormat"/> defaults to <c>channels_last</c>.</summary>
    public Flatten(DataFormat dataFormat = default) => DataFormat = dataFormat;

    /// <summary>The layout of the input; only matters for the element order.</summary>
    public DataFormat DataFormat { get; init; }

    /// <inheritdoc />
    public override Shape ComputeOutputShape(Shape input)
    {
        // Keras: the flattened length is unknown when any dimension is.
        if (input.ElementCount is not { } size) return new Shape((int?)null);
        if (size > int.MaxValue) throw ShapeError(input, null, $"the flattened size {size:N0} exceeds {int.MaxValue:N0}, the largest dimension.");
        return new Shape((int)size);
    }
}
