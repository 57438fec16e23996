
using Functional.Shapes;
using Functional.Functions;
namespace Functional.Layers;

/// <summary>
/// The rank-generic convolution behind <see cref="Conv1D"/>, <see cref="Conv2D"/> and <see cref="Conv3D"/>.
/// </summary>
/// <remarks>
/// <para>Input shape: <c>(…spatial, channels)</c> for <c>channels_last</c>, <c>(channels, …spatial)</c> for <c>channels_first</c>.</para>
/// <para>Output shape: the same layout with <see cref="Filters"/> channels; each spatial length is
/// ⌈n/s⌉ for <c>same</c>/<c>causal</c> and ⌈(n − (k−1)·d)/s⌉ for <c>valid</c>.</para>
/// <para>Parameters: kernel <c>(…kernel_size, in/groups, filters)</c> plus bias <c>(filters,)</c> — K·F·F·D_in + K for Conv2D with groups 1.</para>
/// <para>With <see cref="LoraRank"/> r (Keras's <c>lora_rank</c>) the kernel is non-trainable and the trainable
/// <c>lora_kernel_a</c> <c>(…kernel_size, in/groups, r)</c> and <c>lora_kernel_b</c> <c>(r, filters)</c> add
/// r·(∏kernel_size·in/groups + filters) parameters; the convolution uses <c>kernel + (a · b) · LoraAlpha / r</c>.</para>
/// </remarks>
public abstract record Conv : Layer
{
    /// <summary>The <c>kernel</c> weight's initializer, regularizer and constraint as one value.</summary>
    public WeightOptions Kernel => new(KernelInitializer, KernelRegularizer, KernelConstraint);
    /// <summary>The <c>bias</c> weight's initializer, regularizer and constraint as one value.</summary>
    public WeightOptions Bias => new(BiasInitializer, BiasRegularizer, BiasConstraint);


    /// <summary>Validates and normalises the arguments; every failure names the argument and value.</summary>
    protected Conv(int rank, int filters, IntTuple kernelSize, IntTuple strides, Padding padding, DataFormat dataFormat,
        IntTuple dilationRate, int groups, ActivationFunction? activation, bool useBias,
        Initializer? kernelInitializer, Initializer? biasInitializer,
        Regularizer? kernelRegularizer, Regularizer? biasRegularizer, Regularizer? activityRegularizer,
        Constraint? kernelConstraint, Constraint? biasConstraint, int? loraRank = null, double? loraAlpha = null)
    {
        Rank = rank;
        Filters = filters;
        KernelSize = kernelSize;
        Strides = strides.Count == 0 ? 1 : strides;
        Padding = padding;
        DataFormat = dataFormat;
        DilationRate = dilationRate.Count == 0 ? 1 : dilationRate;
        Groups = groups;
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
        Validate();
        EndConstruction();
    }

    /// <summary>The number of spatial dimensions (1, 2 or 3).</summary>
    public int Rank { get; }

    /// <summary>The number of output channels (K).</summary>
    public int Filters { get; init { field = value > 0 ? value : throw ArgumentError("filters", value, "a strictly positive integer"); Recheck(Validate); } }

    /// <summary>The window size per spatial dimension (F).</summary>
    public IntTuple KernelSize { get; init => field = value.Expand(Rank, ClassName, "kernelSize").RequireAtLeast(1, ClassName, "kernelSize"); }

    /// <summary>The step per spatial dimension (S); 1 by default.</summary>
    public IntTuple Strides { get; init { field = value.Expand(Rank, ClassName, "strides").RequireAtLeast(1, ClassName, "strides"); Recheck(Validate); } }

    /// <summary><c>valid</c> (default), <c>same</c>, or <c>causal</c> (Conv1D only).</summary>
    public Padding Padding { get; init { field = value; Recheck(Validate); } }

    /// <summary><c>channels_last</c> (default) or <c>channels_first</c>.</summary>
    public DataFormat DataFormat { get; init; }

    /// <summary>The dilation per spatial dimension; 1 by default.</summary>
    public IntTuple DilationRate { get; init { field = value.Expand(Rank, ClassName, "dilationRate").RequireAtLeast(1, ClassName, "dilationRate"); Recheck(Validate); } }

    /// <summary>The number of channel groups; input channels and filters must both divide by it.</summary>
    public int Groups { get; init { field = value > 0 ? value : throw ArgumentError("groups", value, "a strictly positive integer"); Recheck(Validate); } }

    /// <summary>Applied to the output; <c>linear</c> (none) by default.</summary>
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
    public Constraint? KernelConstraint { get; init { field = value; Recheck(Validate); } }

    /// <summary>Constraint on the bias (Keras <c>bias_constraint</c>); none by default.</summary>
    public Constraint? BiasConstraint { get; init; }

    /// <summary>
    /// Keras's <c>lora_rank</c>: when set, the kernel is frozen and a trainable low-rank delta of this rank is added to it
    /// (see <see cref="EnableLora"/>); <c>null</c> (the default) for a plain convolution. Incompatible with a kernel constraint.
    /// </summary>
    [ConfigOmittedWhenNull]
    public int? LoraRank { get; init { field = value is null or > 0 ? value : throw ArgumentError("loraRank", value, "a strictly positive integer or None"); Recheck(Validate); } }

    /// <summary>
    /// Keras's <c>lora_alpha</c>: the LoRA delta is scaled by <c>LoraAlpha / LoraRank</c>; <c>null</c> (the default) means
    /// the rank, i.e. a scale of 1. Ignored without <see cref="LoraRank"/>.
    /// </summary>
    [ConfigOmittedWhenNull]
    public double? LoraAlpha { get; init => field = value is not { } a || double.IsFinite(a) ? value : throw ArgumentError("loraAlpha", value, "a finite number or None"); }

    /// <summary>
    /// Keras's <c>enable_lora(rank, lora_alpha)</c> for an immutable record: returns a copy with <see cref="LoraRank"/> =
    /// <paramref name="rank"/> and <see cref="LoraAlpha"/> = <paramref name="loraAlpha"/> (null: the rank). Building the
    /// copy creates the frozen <c>kernel</c> plus trainable <c>lora_kernel_a</c> <c>(…kernel_size, in/groups, rank)</c>
    /// (he_uniform) and <c>lora_kernel_b</c> <c>(rank, filters)</c> (zeros). To fine-tune trained weights, build the copy
    /// and load the original model's weights file into it (a file without the LoRA weights leaves them fresh).
    /// </summary>
    /// <exception cref="ArgumentException">The rank is not positive, or the layer has a kernel constraint (as in Keras).</exception>
    /// <exception cref="InvalidOperationException">LoRA is already enabled (Keras allows it once per layer).</exception>
    public Conv EnableLora(int rank, double? loraAlpha = null)
    {
        Lora.RequireNotEnabled(this, LoraRank);
        var enabled = this with { LoraRank = rank, LoraAlpha = loraAlpha };
        enabled.Validate();
        return enabled;
    }

    /// <summary>Checks the rules that involve several arguments: by the constructor, then after each assignment of a <c>with</c>.</summary>
    protected virtual void Validate()
    {
        if (Padding.Kind == PaddingKind.Causal && Rank != 1)
            throw new ArgumentException($"{ClassName}: padding 'causal' is only supported for 1-D convolutions. Received: padding='causal'.", "padding");
        Window.RequireStridesOrDilation(ClassName, Strides, DilationRate);
        Lora.RequireNoKernelConstraint(this, LoraRank, KernelConstraint);
        if (Filters % Groups != 0)
            throw new ArgumentException(
                $"{ClassName}: the number of filters must be evenly divisible by the number of groups. Received: groups={Groups}, filters={Filters}.", "groups");
    }

    /// <summary>The sliding window: kernel size, strides, dilation, padding and data format.</summary>
    public Window Window => new(KernelSize, Strides, DilationRate, Padding, DataFormat);

    /// <summary>Checks rank and channels; returns the input channel count (null when unknown).</summary>
    protected int? CheckInput(Shape input)
    {
        var channels = ConvolutionRules.CheckRank(this, Rank, DataFormat, input);
        if (channels % Groups is > 0)
            throw ShapeError(input, DataFormat.ChannelAxis(input.Rank),
                $"the number of input channels ({channels}) must be evenly divisible by groups={Groups}.");
        return channels;
    }

    /// <inheritdoc />
    public override Shape ComputeOutputShape(Shape input)
    {
        CheckInput(input);
        return ConvolutionRules.WindowOutput(this, input, Window, Filters, "kernelSize");
    }

    /// <inheritdoc />
    public override IReadOnlyList<ParameterSpec> Parameters(Shape input)
    {
        CheckInput(input);
        var channels = ConvolutionRules.KnownChannels(this, DataFormat, input);
        var kernel = new Shape([.. KernelSize, channels / Groups, Filters]);
        var specs = new List<ParameterSpec> { Kernel.Declare("kernel", kernel, trainable: LoraRank is null) };
        if (UseBias) specs.Add(Bias.Declare("bias", new Shape(Filters)));
        if (LoraRank is { } rank) specs.AddRange(Lora.AdapterSpecs(kernel, rank, KernelRegularizer));
        return specs;
    }
}

/// <summary>1-D convolution over <c>(steps, channels)</c> (Keras <c>Conv1D</c>); supports <c>causal</c> padding.</summary>
/// <remarks>Input shape (steps, channels) (or channels first) → output (steps′, filters), steps′ = ⌈n/s⌉ for <c>same</c>/<c>causal</c>, ⌈(n − (k−1)·d)/s⌉ for <c>valid</c>. Parameters: k·(in/groups)·filters + filters.</remarks>
public sealed record Conv1D : Conv
{
    /// <summary>Creates the layer with Keras's defaults: strides 1, <c>valid</c>, <c>channels_last</c>, dilation 1, groups 1, no activation, bias.</summary>
    public Conv1D(int filters, IntTuple kernelSize, IntTuple strides = default, Padding padding = default, DataFormat dataFormat = default,
        IntTuple dilationRate = default, int groups = 1, ActivationFunction? activation = null, bool useBias = true,
        Initializer? kernelInitializer = null, Initializer? biasInitializer = null,
        Regularizer? kernelRegularizer = null, Regularizer? biasRegularizer = null, Regularizer? activityRegularizer = null,
        Constraint? kernelConstraint = null, Constraint? biasConstraint = null, int? loraRank = null, double? loraAlpha = null)
        : base(1, filters, kernelSize, strides, padding, dataFormat, dilationRate, groups, activation, useBias, kernelInitializer, biasInitializer,
              kernelRegularizer, biasRegularizer, activityRegularizer, kernelConstraint, biasConstraint, loraRank, loraAlpha) { }

    /// <inheritdoc cref="Conv.EnableLora"/>
    public new Conv1D EnableLora(int rank, double? loraAlpha = null) => (Conv1D)base.EnableLora(rank, loraAlpha);
}

/// <summary>2-D convolution over <c>(rows, cols, channels)</c> (Keras <c>Conv2D</c>).</summary>
/// <remarks>Parameters: K·F·F·D_in + K (K·F·F·D_in without bias). Output rows: ⌈n/s⌉ (<c>same</c>) or ⌈(n − f + 1)/s⌉ (<c>valid</c>).</remarks>
public sealed record Conv2D : Conv
{
    /// <summary>Creates the layer with Keras's defaults: strides 1, <c>valid</c>, <c>channels_last</c>, dilation 1, groups 1, no activation, bias.</summary>
    public Conv2D(int filters, IntTuple kernelSize, IntTuple strides = default, Padding padding = default, DataFormat dataFormat = default,
        IntTuple dilationRate = default, int groups = 1, ActivationFunction? activation = null, bool useBias = true,
        Initializer? kernelInitializer = null, Initializer? biasInitializer = null,
        Regularizer? kernelRegularizer = null, Regularizer? biasRegularizer = null, Regularizer? activityRegularizer = null,
        Constraint? kernelConstraint = null, Constraint? biasConstraint = null, int? loraRank = null, double? loraAlpha = null)
        : base(2, filters, kernelSize, strides, padding, dataFormat, dilationRate, groups, activation, useBias, kernelInitializer, biasInitializer,
              kernelRegularizer, biasRegularizer, activityRegularizer, kernelConstraint, biasConstraint, loraRank, loraAlpha) { }

    /// <inheritdoc cref="Conv.EnableLora"/>
    public new Conv2D EnableLora(int rank, double? loraAlpha = null) => (Conv2D)base.EnableLora(rank, loraAlpha);
}

/// <summary>3-D convolution over <c>(dim1, dim2, dim3, channels)</c> (Keras <c>Conv3D</c>).</summary>
/// <remarks>Input shape (d1, d2, d3, channels) (or channels first) → output (d1′, d2′, d3′, filters). Parameters: k1·k2·k3·(in/groups)·filters + filters.</remarks>
public sealed record Conv3D : Conv
{
    /// <summary>Creates the layer with Keras's defaults: strides 1, <c>valid</c>, <c>channels_last</c>, dilation 1, groups 1, no activation, bias.</summary>
    public Conv3D(int filters, IntTuple kernelSize, IntTuple strides = default, Padding padding = default, DataFormat dataFormat = default,
        IntTuple dilationRate = default, int groups = 1, ActivationFunction? activation = null, bool useBias = true,
        Initializer? kernelInitializer = null, Initializer? biasInitializer = null,
        Regularizer? kernelRegularizer = null, Regularizer? biasRegularizer = null, Regularizer? activityRegularizer = null,
        Constraint? kernelConstraint = null, Constraint? biasConstraint = null, int? loraRank = null, double? loraAlpha = null)
        : base(3, filters, kernelSize, strides, padding, dataFormat, dilationRate, groups, activation, useBias, kernelInitializer, biasInitializer,
              kernelRegularizer, biasRegularizer, activityRegularizer, kernelConstraint, biasConstraint, loraRank, loraAlpha) { }

    /// <inheritdoc cref="Conv.EnableLora"/>
    public new Conv3D EnableLora(int rank, double? loraAlpha = null) => (Conv3D)base.EnableLora(rank, loraAlpha);
}
