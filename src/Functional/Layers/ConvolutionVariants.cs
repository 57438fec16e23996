
using Functional.Shapes;
using Functional.Functions;
namespace Functional.Layers;

/// <summary>Checks and shape rules shared by the convolution variants (separable, depthwise, transposed).</summary>
internal static class ConvolutionRules
{
    /// <summary>How the per-sample input of a rank-N convolution is laid out, for messages.</summary>
    public static string Layout(int rank, DataFormat dataFormat)
    {
        var spatial = rank switch { 1 => "steps", 2 => "rows, cols", _ => "dim1, dim2, dim3" };
        return dataFormat.IsChannelsLast ? $"{spatial}, channels" : $"channels, {spatial}";
    }

    /// <summary>Checks the input's rank; returns its channel count (null when unknown).</summary>
    public static int? CheckRank(Layer layer, int rank, DataFormat dataFormat, Shape input)
    {
        if (input.Rank != rank + 1)
            throw new ShapeException(layer, [input], null,
                $"expected a per-sample input of rank {rank + 1} ({Layout(rank, dataFormat)}), got rank {input.Rank}.");
        return input[dataFormat.ChannelAxis(input.Rank)];
    }

    /// <summary>The channel count, which a layer with weights needs known (Keras: "The channel dimension of the inputs should be defined").</summary>
    public static int KnownChannels(Layer layer, DataFormat dataFormat, Shape input)
    {
        var axis = dataFormat.ChannelAxis(input.Rank);
        return input[axis] ?? throw new ShapeException(layer, [input], axis,
            "the channel dimension of the inputs should be defined to create the weights. Found None.");
    }

    /// <summary>
    /// The output shape of a windowed layer (convolution or pooling) by <see cref="Window.OutputShape"/>, or a shape error
    /// naming the spatial axis a <c>valid</c> window does not fit; <paramref name="argument"/> names the window's size argument.
    /// </summary>
    public static Shape WindowOutput(Layer layer, Shape input, Window window, int? outputChannels, string argument)
    {
        if (window.FirstUnfit(input) is { } i)
        {
            var axis = window.DataFormat.SpatialAxes(input.Rank)[i];
            throw new ShapeException(layer, [input], axis, argument == "poolSize"
                ? $"spatial dimension {i} has length {input[axis]}, smaller than poolSize {window.Size} with padding 'valid'."
                : $"spatial dimension {i} has length {input[axis]}, smaller than the {(window.Dilation[i] > 1 ? "dilated " : "")}kernel extent " +
                  $"{window.Extent(i)} (kernelSize={window.Size}, dilationRate={window.Dilation}) with padding 'valid'.");
        }
        return window.OutputShape(input, outputChannels);
    }

    /// <summary>A shape of <paramref name="count"/> ones followed by <paramref name="rest"/>.</summary>
    public static Shape Ones(int count, params int[] rest) => new([.. Enumerable.Repeat(1, count), .. rest]);
}

/// <summary>
/// The rank-generic depthwise separable convolution behind <see cref="SeparableConv1D"/> and <see cref="SeparableConv2D"/>
/// (Keras <c>BaseSeparableConv</c>): a depthwise convolution that convolves each input channel with
/// <see cref="DepthMultiplier"/> kernels, then a pointwise (1×1) convolution that mixes the channels into <see cref="Filters"/>.
/// </summary>
/// <remarks>
/// <para>Output shape: as a convolution with <see cref="Filters"/> channels — ⌈n/s⌉ for <c>same</c>, ⌈(n − (k−1)·d)/s⌉ for <c>valid</c>.</para>
/// <para>Weights, in Keras's order and layout: <c>depthwise_kernel</c> <c>(…kernel_size, in, depth_multiplier)</c>,
/// <c>pointwise_kernel</c> <c>(1, …, in·depth_multiplier, filters)</c>, <c>bias</c> <c>(filters,)</c>.
/// Parameter count for SeparableConv2D: k_h·k_w·in·dm + in·dm·filters + filters.</para>
/// </remarks>
public abstract record SeparableConv : Layer
{
    /// <summary>The <c>depthwise</c> weight's initializer, regularizer and constraint as one value.</summary>
    public WeightOptions Depthwise => new(DepthwiseInitializer, DepthwiseRegularizer, DepthwiseConstraint);
    /// <summary>The <c>pointwise</c> weight's initializer, regularizer and constraint as one value.</summary>
    public WeightOptions Pointwise => new(PointwiseInitializer, PointwiseRegularizer, PointwiseConstraint);
    /// <summary>The <c>bias</c> weight's initializer, regularizer and constraint as one value.</summary>
    public WeightOptions Bias => new(BiasInitializer, BiasRegularizer, BiasConstraint);


    /// <summary>Validates and normalises the arguments; every failure names the argument and value.</summary>
    protected SeparableConv(int rank, int filters, IntTuple kernelSize, IntTuple strides, Padding padding, DataFormat dataFormat,
        IntTuple dilationRate, int depthMultiplier, ActivationFunction? activation, bool useBias,
        Initializer? depthwiseInitializer, Initializer? pointwiseInitializer, Initializer? biasInitializer,
        Regularizer? depthwiseRegularizer, Regularizer? pointwiseRegularizer, Regularizer? biasRegularizer, Regularizer? activityRegularizer,
        Constraint? depthwiseConstraint, Constraint? pointwiseConstraint, Constraint? biasConstraint)
    {
        Rank = rank;
        Filters = filters;
        KernelSize = kernelSize;
        Strides = strides.Count == 0 ? 1 : strides;
        Padding = padding;
        DataFormat = dataFormat;
        DilationRate = dilationRate.Count == 0 ? 1 : dilationRate;
        DepthMultiplier = depthMultiplier;
        Activation = activation ?? ActivationFunction.Linear;
        UseBias = useBias;
        DepthwiseInitializer = depthwiseInitializer ?? new GlorotUniform();
        PointwiseInitializer = pointwiseInitializer ?? new GlorotUniform();
        BiasInitializer = biasInitializer ?? new Zeros();
        DepthwiseRegularizer = depthwiseRegularizer;
        PointwiseRegularizer = pointwiseRegularizer;
        BiasRegularizer = biasRegularizer;
        ActivityRegularizer = activityRegularizer;
        DepthwiseConstraint = depthwiseConstraint;
        PointwiseConstraint = pointwiseConstraint;
        BiasConstraint = biasConstraint;
    }

    /// <summary>The number of spatial dimensions (1 or 2).</summary>
    public int Rank { get; }

    /// <summary>The number of output channels of the pointwise convolution.</summary>
    public int Filters { get; init => field = value > 0 ? value : throw ArgumentError("filters", value, "a strictly positive integer"); }

    /// <summary>The depthwise window size per spatial dimension.</summary>
    public IntTuple KernelSize { get; init => field = value.Expand(Rank, ClassName, "kernelSize").RequireAtLeast(1, ClassName, "kernelSize"); }

    /// <summary>The depthwise step per spatial dimension; 1 by default. Strides &gt; 1 may go with dilation &gt; 1, as in Keras 3 (keras-team/keras#22598).</summary>
    public IntTuple Strides { get; init => field = value.Expand(Rank, ClassName, "strides").RequireAtLeast(1, ClassName, "strides"); }

    /// <summary><c>valid</c> (default) or <c>same</c>.</summary>
    public Padding Padding { get; init { field = Window.RequireValidOrSame(ClassName, value); } }

    /// <summary>The sliding window: kernel size, strides, dilation, padding and data format.</summary>
    public Window Window => new(KernelSize, Strides, DilationRate, Padding, DataFormat);

    /// <summary><c>channels_last</c> (default) or <c>channels_first</c>.</summary>
    public DataFormat DataFormat { get; init; }

    /// <summary>The depthwise dilation per spatial dimension; 1 by default.</summary>
    public IntTuple DilationRate { get; init => field = value.Expand(Rank, ClassName, "dilationRate").RequireAtLeast(1, ClassName, "dilationRate"); }

    /// <summary>Depthwise output channels per input channel (1 by default).</summary>
    public int DepthMultiplier { get; init => field = value > 0 ? value : throw ArgumentError("depthMultiplier", value, "a strictly positive integer"); }

    /// <summary>Applied to the output; <c>linear</c> (none) by default.</summary>
    public ActivationFunction Activation { get; init => field = value ?? throw ArgumentError("activation", null, "an activation"); }

    /// <summary>Whether a bias is added after the pointwise convolution (default true).</summary>
    public bool UseBias { get; init; }

    /// <summary>Depthwise kernel initializer; <c>glorot_uniform</c> by default.</summary>
    public Initializer DepthwiseInitializer { get; init => field = value ?? throw ArgumentError("depthwiseInitializer", null, "an initializer"); }

    /// <summary>Pointwise kernel initializer; <c>glorot_uniform</c> by default.</summary>
    public Initializer PointwiseInitializer { get; init => field = value ?? throw ArgumentError("pointwiseInitializer", null, "an initializer"); }

    /// <summary>Bias initializer; <c>zeros</c> by default.</summary>
    public Initializer BiasInitializer { get; init => field = value ?? throw ArgumentError("biasInitializer", null, "an initializer"); }

    /// <summary>Penalty on the depthwise kernel; none by default.</summary>
    public Regularizer? DepthwiseRegularizer { get; init; }

    /// <summary>Penalty on the pointwise kernel; none by default.</summary>
    public Regularizer? PointwiseRegularizer { get; init; }

    /// <summary>Penalty on the bias; none by default.</summary>
    public Regularizer? BiasRegularizer { get; init; }

    /// <summary>Constraint on the depthwise kernel; none by default.</summary>
    public Constraint? DepthwiseConstraint { get; init; }

    /// <summary>Constraint on the pointwise kernel; none by default.</summary>
    public Constraint? PointwiseConstraint { get; init; }

    /// <summary>Constraint on the bias; none by default.</summary>
    public Constraint? BiasConstraint { get; init; }


    /// <inheritdoc />
    public override Shape ComputeOutputShape(Shape input)
    {
        ConvolutionRules.CheckRank(this, Rank, DataFormat, input);
        return ConvolutionRules.WindowOutput(this, input, Window, Filters, "kernelSize");
    }

    /// <inheritdoc />
    public override IReadOnlyList<ParameterSpec> Parameters(Shape input)
    {
        ComputeOutputShape(input);
        var channels = ConvolutionRules.KnownChannels(this, DataFormat, input);
        var specs = new List<ParameterSpec>
        {
            Depthwise.Declare("depthwise_kernel", new Shape([.. KernelSize, channels, DepthMultiplier])),
            Pointwise.Declare("pointwise_kernel", ConvolutionRules.Ones(Rank, channels * DepthMultiplier, Filters)),
        };
        if (UseBias) specs.Add(Bias.Declare("bias", new Shape(Filters)));
        return specs;
    }
}

/// <summary>Depthwise separable 1-D convolution over <c>(steps, channels)</c> (Keras <c>SeparableConv1D</c>).</summary>
/// <remarks>Parameters: k·in·dm + in·dm·filters + filters (without the last term when <c>useBias</c> is false).</remarks>
public sealed record SeparableConv1D : SeparableConv
{
    /// <summary>Keras's argument order and defaults: strides 1, <c>valid</c>, <c>channels_last</c>, dilation 1, depth multiplier 1, no activation, bias, <c>glorot_uniform</c> kernels, <c>zeros</c> bias.</summary>
    public SeparableConv1D(int filters, IntTuple kernelSize, IntTuple strides = default, Padding padding = default, DataFormat dataFormat = default,
        IntTuple dilationRate = default, int depthMultiplier = 1, ActivationFunction? activation = null, bool useBias = true,
        Initializer? depthwiseInitializer = null, Initializer? pointwiseInitializer = null, Initializer? biasInitializer = null,
        Regularizer? depthwiseRegularizer = null, Regularizer? pointwiseRegularizer = null, Regularizer? biasRegularizer = null,
        Regularizer? activityRegularizer = null, Constraint? depthwiseConstraint = null, Constraint? pointwiseConstraint = null,
        Constraint? biasConstraint = null)
        : base(1, filters, kernelSize, strides, padding, dataFormat, dilationRate, depthMultiplier, activation, useBias,
              depthwiseInitializer, pointwiseInitializer, biasInitializer, depthwiseRegularizer, pointwiseRegularizer, biasRegularizer,
              activityRegularizer, depthwiseConstraint, pointwiseConstraint, biasConstraint) { }
}

/// <summary>Depthwise separable 2-D convolution over <c>(rows, cols, channels)</c> (Keras <c>SeparableConv2D</c>).</summary>
/// <remarks>Parameters: k_h·k_w·in·dm + in·dm·filters + filters (Xception's <c>block2_sepconv1</c>, 128 filters on 64 channels without bias: 8,768).</remarks>
public sealed record SeparableConv2D : SeparableConv
{
    /// <summary>Keras's argument order and defaults: strides 1, <c>valid</c>, <c>channels_last</c>, dilation 1, depth multiplier 1, no activation, bias, <c>glorot_uniform</c> kernels, <c>zeros</c> bias.</summary>
    public SeparableConv2D(int filters, IntTuple kernelSize, IntTuple strides = default, Padding padding = default, DataFormat dataFormat = default,
        IntTuple dilationRate = default, int depthMultiplier = 1, ActivationFunction? activation = null, bool useBias = true,
        Initializer? depthwiseInitializer = null, Initializer? pointwiseInitializer = null, Initializer? biasInitializer = null,
        Regularizer? depthwiseRegularizer = null, Regularizer? pointwiseRegularizer = null, Regularizer? biasRegularizer = null,
        Regularizer? activityRegularizer = null, Constraint? depthwiseConstraint = null, Constraint? pointwiseConstraint = null,
        Constraint? biasConstraint = null)
        : base(2, filters, kernelSize, strides, padding, dataFormat, dilationRate, depthMultiplier, activation, useBias,
              depthwiseInitializer, pointwiseInitializer, biasInitializer, depthwiseRegularizer, pointwiseRegularizer, biasRegularizer,
              activityRegularizer, depthwiseConstraint, pointwiseConstraint, biasConstraint) { }
}

/// <summary>
/// The rank-generic depthwise convolution behind <see cref="DepthwiseConv1D"/> and <see cref="DepthwiseConv2D"/>
/// (Keras <c>BaseDepthwiseConv</c>): each input channel is convolved with its own <see cref="DepthMultiplier"/> kernels;
/// channels are never mixed. Output channel <c>c·dm + m</c> is input channel <c>c</c> under kernel <c>m</c>.
/// </summary>
/// <remarks>
/// <para>Output shape: in·dm channels; spatial lengths as a convolution's.</para>
/// <para>Weights, in Keras 3's order and layout: <c>kernel</c> <c>(…kernel_size, in, depth_multiplier)</c> (Keras 2 called it
/// <c>depthwise_kernel</c>) and <c>bias</c> <c>(in·depth_multiplier,)</c>. Parameter count for DepthwiseConv2D: k_h·k_w·in·dm + in·dm.</para>
/// </remarks>
public abstract record DepthwiseConv : Layer
{
    /// <summary>The <c>depthwise</c> weight's initializer, regularizer and constraint as one value.</summary>
    public WeightOptions Depthwise => new(DepthwiseInitializer, DepthwiseRegularizer, DepthwiseConstraint);
    /// <summary>The <c>bias</c> weight's initializer, regularizer and constraint as one value.</summary>
    public WeightOptions Bias => new(BiasInitializer, BiasRegularizer, BiasConstraint);


    /// <summary>Validates and normalises the arguments; every failure names the argument and value.</summary>
    protected DepthwiseConv(int rank, IntTuple kernelSize, IntTuple strides, Padding padding, int depthMultiplier, DataFormat dataFormat,
        IntTuple dilationRate, ActivationFunction? activation, bool useBias, Initializer? depthwiseInitializer, Initializer? biasInitializer,
        Regularizer? depthwiseRegularizer, Regularizer? biasRegularizer, Regularizer? activityRegularizer,
        Constraint? depthwiseConstraint, Constraint? biasConstraint)
    {
        Rank = rank;
        KernelSize = kernelSize;
        Strides = strides.Count == 0 ? 1 : strides;
        Padding = padding;
        DepthMultiplier = depthMultiplier;
        DataFormat = dataFormat;
        DilationRate = dilationRate.Count == 0 ? 1 : dilationRate;
        Activation = activation ?? ActivationFunction.Linear;
        UseBias = useBias;
        DepthwiseInitializer = depthwiseInitializer ?? new GlorotUniform();
        BiasInitializer = biasInitializer ?? new Zeros();
        DepthwiseRegularizer = depthwiseRegularizer;
        BiasRegularizer = biasRegularizer;
        ActivityRegularizer = activityRegularizer;
        DepthwiseConstraint = depthwiseConstraint;
        BiasConstraint = biasConstraint;
    }

    /// <summary>The number of spatial dimensions (1 or 2).</summary>
    public int Rank { get; }

    /// <summary>The window size per spatial dimension.</summary>
    public IntTuple KernelSize { get; init => field = value.Expand(Rank, ClassName, "kernelSize").RequireAtLeast(1, ClassName, "kernelSize"); }

    /// <summary>The step per spatial dimension; 1 by default. Strides &gt; 1 may go with dilation &gt; 1, as in Keras 3 (keras-team/keras#22598).</summary>
    public IntTuple Strides { get; init => field = value.Expand(Rank, ClassName, "strides").RequireAtLeast(1, ClassName, "strides"); }

    /// <summary><c>valid</c> (default) or <c>same</c>.</summary>
    public Padding Padding { get; init { field = Window.RequireValidOrSame(ClassName, value); } }

    /// <summary>The sliding window: kernel size, strides, dilation, padding and data format.</summary>
    public Window Window => new(KernelSize, Strides, DilationRate, Padding, DataFormat);

    /// <summary>Output channels per input channel (1 by default).</summary>
    public int DepthMultiplier { get; init => field = value > 0 ? value : throw ArgumentError("depthMultiplier", value, "a strictly positive integer"); }

    /// <summary><c>channels_last</c> (default) or <c>channels_first</c>.</summary>
    public DataFormat DataFormat { get; init; }

    /// <summary>The dilation per spatial dimension; 1 by default.</summary>
    public IntTuple DilationRate { get; init => field = value.Expand(Rank, ClassName, "dilationRate").RequireAtLeast(1, ClassName, "dilationRate"); }

    /// <summary>Applied to the output; <c>linear</c> (none) by default.</summary>
    public ActivationFunction Activation { get; init => field = value ?? throw ArgumentError("activation", null, "an activation"); }

    /// <summary>Whether a bias is added (default true).</summary>
    public bool UseBias { get; init; }

    /// <summary>Kernel initializer; <c>glorot_uniform</c> by default.</summary>
    public Initializer DepthwiseInitializer { get; init => field = value ?? throw ArgumentError("depthwiseInitializer", null, "an initializer"); }

    /// <summary>Bias initializer; <c>zeros</c> by default.</summary>
    public Initializer BiasInitializer { get; init => field = value ?? throw ArgumentError("biasInitializer", null, "an initializer"); }

    /// <summary>Penalty on the kernel; none by default.</summary>
    public Regularizer? DepthwiseRegularizer { get; init; }

    /// <summary>Penalty on the bias; none by default.</summary>
    public Regularizer? BiasRegularizer { get; init; }

    /// <summary>Constraint on the kernel; none by default.</summary>
    public Constraint? DepthwiseConstraint { get; init; }

    /// <summary>Constraint on the bias; none by default.</summary>
    public Constraint? BiasConstraint { get; init; }


    /// <inheritdoc />
    public override Shape ComputeOutputShape(Shape input)
    {
        var channels = ConvolutionRules.CheckRank(this, Rank, DataFormat, input);
        return ConvolutionRules.WindowOutput(this, input, Window, channels * DepthMultiplier, "kernelSize");
    }

    /// <inheritdoc />
    public override IReadOnlyList<ParameterSpec> Parameters(Shape input)
    {
        ComputeOutputShape(input);
        var channels = ConvolutionRules.KnownChannels(this, DataFormat, input);
        var specs = new List<ParameterSpec>
        {
            Depthwise.Declare("kernel", new Shape([.. KernelSize, channels, DepthMultiplier])),
        };
        if (UseBias) specs.Add(Bias.Declare("bias", new Shape(channels * DepthMultiplier)));
        return specs;
    }
}

/// <summary>Depthwise 1-D convolution over <c>(steps, channels)</c> (Keras <c>DepthwiseConv1D</c>).</summary>
/// <remarks>Keras's example: kernel 3, depth multiplier 3, strides 2 on (10, 12) gives (4, 36). Parameters: k·in·dm + in·dm.</remarks>
public sealed record DepthwiseConv1D : DepthwiseConv
{
    /// <summary>Keras's argument order and defaults: strides 1, <c>valid</c>, depth multiplier 1, <c>channels_last</c>, dilation 1, no activation, bias, <c>glorot_uniform</c>/<c>zeros</c>.</summary>
    public DepthwiseConv1D(IntTuple kernelSize, IntTuple strides = default, Padding padding = default, int depthMultiplier = 1,
        DataFormat dataFormat = default, IntTuple dilationRate = default, ActivationFunction? activation = null, bool useBias = true,
        Initializer? depthwiseInitializer = null, Initializer? biasInitializer = null,
        Regularizer? depthwiseRegularizer = null, Regularizer? biasRegularizer = null, Regularizer? activityRegularizer = null,
        Constraint? depthwiseConstraint = null, Constraint? biasConstraint = null)
        : base(1, kernelSize, strides, padding, depthMultiplier, dataFormat, dilationRate, activation, useBias, depthwiseInitializer,
              biasInitializer, depthwiseRegularizer, biasRegularizer, activityRegularizer, depthwiseConstraint, biasConstraint) { }
}

/// <summary>Depthwise 2-D convolution over <c>(rows, cols, channels)</c> (Keras <c>DepthwiseConv2D</c>).</summary>
/// <remarks>Parameters: k_h·k_w·in·dm + in·dm (MobileNet's 3×3 depthwise on 32 channels without bias: 288).</remarks>
public sealed record DepthwiseConv2D : DepthwiseConv
{
    /// <summary>Keras's argument order and defaults: strides 1, <c>valid</c>, depth multiplier 1, <c>channels_last</c>, dilation 1, no activation, bias, <c>glorot_uniform</c>/<c>zeros</c>.</summary>
    public DepthwiseConv2D(IntTuple kernelSize, IntTuple strides = default, Padding padding = default, int depthMultiplier = 1,
        DataFormat dataFormat = default, IntTuple dilationRate = default, ActivationFunction? activation = null, bool useBias = true,
        Initializer? depthwiseInitializer = null, Initializer? biasInitializer = null,
        Regularizer? depthwiseRegularizer = null, Regularizer? biasRegularizer = null, Regularizer? activityRegularizer = null,
        Constraint? depthwiseConstraint = null, Constraint? biasConstraint = null)
        : base(2, kernelSize, strides, padding, depthMultiplier, dataFormat, dilationRate, activation, useBias, depthwiseInitializer,
              biasInitializer, depthwiseRegularizer, biasRegularizer, activityRegularizer, depthwiseConstraint, biasConstraint) { }
}

/// <summary>
/// The rank-generic transposed convolution behind <see cref="Conv1DTranspose"/>, <see cref="Conv2DTranspose"/> and
/// <see cref="Conv3DTranspose"/> (Keras <c>BaseConvTranspose</c>): the adjoint of a convolution, each input step adding its
/// kernel taps to the output at positions i·s + j·d, cropped (or zero-extended) as Keras defines by
/// <see cref="ConvArithmetic.ConvTransposeCrop"/>.
/// </summary>
/// <remarks>
/// <para>Output length per axis (Keras's <c>compute_conv_transpose_output_shape</c>), k' = (k−1)·d + 1:
/// <c>valid</c> (n−1)·s + k' + p with p = output_padding or max(k', s) − k'; <c>same</c> n·s, or (n−1)·s + k' mod 2 + p with output_padding p.</para>
/// <para>Weights: <c>kernel</c> <c>(…kernel_size, filters, in)</c> — note filters before input channels — and <c>bias</c> <c>(filters,)</c>.
/// Parameter count: Πk·filters·in + filters.</para>
/// </remarks>
public abstract record ConvTranspose : Layer
{
    /// <summary>The <c>kernel</c> weight's initializer, regularizer and constraint as one value.</summary>
    public WeightOptions Kernel => new(KernelInitializer, KernelRegularizer, KernelConstraint);
    /// <summary>The <c>bias</c> weight's initializer, regularizer and constraint as one value.</summary>
    public WeightOptions Bias => new(BiasInitializer, BiasRegularizer, BiasConstraint);


    /// <summary>Validates and normalises the arguments; every failure names the argument and value.</summary>
    protected ConvTranspose(int rank, int filters, IntTuple kernelSize, IntTuple strides, Padding padding, IntTuple outputPadding,
        DataFormat dataFormat, IntTuple dilationRate, ActivationFunction? activation, bool useBias,
        Initializer? kernelInitializer, Initializer? biasInitializer,
        Regularizer? kernelRegularizer, Regularizer? biasRegularizer, Regularizer? activityRegularizer,
        Constraint? kernelConstraint, Constraint? biasConstraint)
    {
        Rank = rank;
        Filters = filters;
        KernelSize = kernelSize;
        Strides = strides.Count == 0 ? 1 : strides;
        Padding = padding;
        OutputPadding = outputPadding;
        DataFormat = dataFormat;
        DilationRate = dilationRate.Count == 0 ? 1 : dilationRate;
        Activation = activation ?? ActivationFunction.Linear;
        UseBias = useBias;
        KernelInitializer = kernelInitializer ?? new GlorotUniform();
        BiasInitializer = biasInitializer ?? new Zeros();
        KernelRegularizer = kernelRegularizer;
        BiasRegularizer = biasRegularizer;
        ActivityRegularizer = activityRegularizer;
        KernelConstraint = kernelConstraint;
        BiasConstraint = biasConstraint;
        Validate();
        EndConstruction();
    }

    /// <summary>The number of spatial dimensions (1, 2 or 3).</summary>
    public int Rank { get; }

    /// <summary>The number of output channels.</summary>
    public int Filters { get; init => field = value > 0 ? value : throw ArgumentError("filters", value, "a strictly positive integer"); }

    /// <summary>The window size per spatial dimension.</summary>
    public IntTuple KernelSize { get; init => field = value.Expand(Rank, ClassName, "kernelSize").RequireAtLeast(1, ClassName, "kernelSize"); }

    /// <summary>The upsampling step per spatial dimension; 1 by default.</summary>
    public IntTuple Strides { get; init { field = value.Expand(Rank, ClassName, "strides").RequireAtLeast(1, ClassName, "strides"); Recheck(Validate); } }

    /// <summary><c>valid</c> (default) or <c>same</c>.</summary>
    public Padding Padding { get; init { field = Window.RequireValidOrSame(ClassName, value); } }

    /// <summary>
    /// Extra length added at the end of each spatial axis, each value &lt; the stride. Empty (the default) means Keras's <c>None</c>:
    /// the output length is then inferred (n·s for <c>same</c>).
    /// </summary>
    public IntTuple OutputPadding
    {
        get;
        init
        {
            field = value.Count == 0 ? value : value.Expand(Rank, ClassName, "outputPadding").RequireAtLeast(0, ClassName, "outputPadding");
            Recheck(Validate);
        }
    }

    /// <summary><c>channels_last</c> (default) or <c>channels_first</c>.</summary>
    public DataFormat DataFormat { get; init; }

    /// <summary>The dilation per spatial dimension; 1 by default.</summary>
    public IntTuple DilationRate { get; init { field = value.Expand(Rank, ClassName, "dilationRate").RequireAtLeast(1, ClassName, "dilationRate"); Recheck(Validate); } }

    /// <summary>Applied to the output; <c>linear</c> (none) by default.</summary>
    public ActivationFunction Activation { get; init => field = value ?? throw ArgumentError("activation", null, "an activation"); }

    /// <summary>Whether a bias is added (default true).</summary>
    public bool UseBias { get; init; }

    /// <summary>Kernel initializer; <c>glorot_uniform</c> by default (fans from the Keras layout <c>(…k, filters, in)</c>).</summary>
    public Initializer KernelInitializer { get; init => field = value ?? throw ArgumentError("kernelInitializer", null, "an initializer"); }

    /// <summary>Bias initializer; <c>zeros</c> by default.</summary>
    public Initializer BiasInitializer { get; init => field = value ?? throw ArgumentError("biasInitializer", null, "an initializer"); }

    /// <summary>Penalty on the kernel; none by default.</summary>
    public Regularizer? KernelRegularizer { get; init; }

    /// <summary>Penalty on the bias; none by default.</summary>
    public Regularizer? BiasRegularizer { get; init; }

    /// <summary>Constraint on the kernel; none by default.</summary>
    public Constraint? KernelConstraint { get; init; }

    /// <summary>Constraint on the bias; none by default.</summary>
    public Constraint? BiasConstraint { get; init; }

    /// <summary>The output padding along axis <paramref name="i"/>, or null when not given.</summary>
    public int? OutputPaddingAt(int i) => OutputPadding.Count == 0 ? null : OutputPadding[i];

    /// <summary>Checks the rules that involve several arguments: by the constructor, then after each assignment of a <c>with</c>.</summary>
    protected void Validate()
    {
        if (OutputPadding.Count != 0)
            for (var i = 0; i < Rank; i++)
                if (OutputPadding[i] >= Strides[i])
                    throw new ArgumentException(
                        $"{ClassName}: `output_padding` must be strictly less than `strides` in every dimension. " +
                        $"Received: outputPadding={OutputPadding}, strides={Strides}.", "outputPadding");
        Window.RequireStridesOrDilation(ClassName, Strides, DilationRate);
    }

    /// <inheritdoc />
    public override Shape ComputeOutputShape(Shape input)
    {
        ConvolutionRules.CheckRank(this, Rank, DataFormat, input);
        var axes = DataFormat.SpatialAxes(input.Rank);
        var dims = input.ToArray();
        for (var i = 0; i < Rank; i++)
        {
            if (input[axes[i]] is not { } n) { dims[axes[i]] = null; continue; }
            var outLen = ConvArithmetic.ConvTransposeOutputLength(n, KernelSize[i], Strides[i], Padding, OutputPaddingAt(i), DilationRate[i]);
            // Only `same` with an explicit output_padding can come out empty: (n − 1)·s + k' mod 2 + p = 0.
            if (outLen <= 0)
                throw ShapeError(input, axes[i],
                    $"spatial dimension {i} of length {n} gives an output of length {outLen} with padding 'same', kernelSize={KernelSize}, " +
                    $"strides={Strides} and outputPadding={OutputPadding} ((n - 1)·s + k mod 2 + outputPadding).");
            dims[axes[i]] = outLen;
        }
        dims[DataFormat.ChannelAxis(input.Rank)] = Filters;
        return new Shape(dims);
    }

    /// <inheritdoc />
    public override IReadOnlyList<ParameterSpec> Parameters(Shape input)
    {
        ComputeOutputShape(input);
        var channels = ConvolutionRules.KnownChannels(this, DataFormat, input);
        var specs = new List<ParameterSpec>
        {
            Kernel.Declare("kernel", new Shape([.. KernelSize, Filters, channels])),
        };
        if (UseBias) specs.Add(Bias.Declare("bias", new Shape(Filters)));
        return specs;
    }
}

/// <summary>Transposed 1-D convolution over <c>(steps, channels)</c> (Keras <c>Conv1DTranspose</c>).</summary>
/// <remarks>Keras's example: 32 filters, kernel 3, strides 2 on (10, 128) gives (21, 32).</remarks>
public sealed record Conv1DTranspose : ConvTranspose
{
    /// <summary>Keras's argument order and defaults: strides 1, <c>valid</c>, no output padding, <c>channels_last</c>, dilation 1, no activation, bias, <c>glorot_uniform</c>/<c>zeros</c>.</summary>
    public Conv1DTranspose(int filters, IntTuple kernelSize, IntTuple strides = default, Padding padding = default, IntTuple outputPadding = default,
        DataFormat dataFormat = default, IntTuple dilationRate = default, ActivationFunction? activation = null, bool useBias = true,
        Initializer? kernelInitializer = null, Initializer? biasInitializer = null,
        Regularizer? kernelRegularizer = null, Regularizer? biasRegularizer = null, Regularizer? activityRegularizer = null,
        Constraint? kernelConstraint = null, Constraint? biasConstraint = null)
        : base(1, filters, kernelSize, strides, padding, outputPadding, dataFormat, dilationRate, activation, useBias, kernelInitializer,
              biasInitializer, kernelRegularizer, biasRegularizer, activityRegularizer, kernelConstraint, biasConstraint) { }
}

/// <summary>Transposed 2-D convolution over <c>(rows, cols, channels)</c> (Keras <c>Conv2DTranspose</c>).</summary>
/// <remarks>Keras's example: 32 filters, kernel 2, strides 2 on (10, 8, 128) gives (20, 16, 32).</remarks>
public sealed record Conv2DTranspose : ConvTranspose
{
    /// <summary>
    /// Keras's argument order and defaults: strides 1, <c>valid</c>, <c>channels_last</c>, dilation 1, no activation, bias,
    /// <c>glorot_uniform</c>/<c>zeros</c>, no output padding. As in Keras, where Conv2DTranspose passes <c>output_padding</c>
    /// through <c>**kwargs</c>, <paramref name="outputPadding"/> is not positional: it comes last, to be given by name.
    /// </summary>
    public Conv2DTranspose(int filters, IntTuple kernelSize, IntTuple strides = default, Padding padding = default,
        DataFormat dataFormat = default, IntTuple dilationRate = default, ActivationFunction? activation = null, bool useBias = true,
        Initializer? kernelInitializer = null, Initializer? biasInitializer = null,
        Regularizer? kernelRegularizer = null, Regularizer? biasRegularizer = null, Regularizer? activityRegularizer = null,
        Constraint? kernelConstraint = null, Constraint? biasConstraint = null, IntTuple outputPadding = default)
        : base(2, filters, kernelSize, strides, padding, outputPadding, dataFormat, dilationRate, activation, useBias, kernelInitializer,
              biasInitializer, kernelRegularizer, biasRegularizer, activityRegularizer, kernelConstraint, biasConstraint) { }
}

/// <summary>Transposed 3-D convolution over <c>(dim1, dim2, dim3, channels)</c> (Keras <c>Conv3DTranspose</c>).</summary>
/// <remarks>Keras's example: 32 filters, kernel 2, strides 2 on (10, 8, 12, 128) gives (20, 16, 24, 32).</remarks>
public sealed record Conv3DTranspose : ConvTranspose
{
    /// <summary>
    /// Keras's argument order and defaults: strides 1, <c>valid</c>, <c>channels_last</c>, dilation 1, no activation, bias,
    /// <c>glorot_uniform</c>/<c>zeros</c>, no output padding. As in Keras, where Conv3DTranspose passes <c>output_padding</c>
    /// through <c>**kwargs</c>, <paramref name="outputPadding"/> is not positional: it comes last, to be given by name.
    /// </summary>
    public Conv3DTranspose(int filters, IntTuple kernelSize, IntTuple strides = default, Padding padding = default,
        DataFormat dataFormat = default, IntTuple dilationRate = default, ActivationFunction? activation = null, bool useBias = true,
        Initializer? kernelInitializer = null, Initializer? biasInitializer = null,
        Regularizer? kernelRegularizer = null, Regularizer? biasRegularizer = null, Regularizer? activityRegularizer = null,
        Constraint? kernelConstraint = null, Constraint? biasConstraint = null, IntTuple outputPadding = default)
        : base(3, filters, kernelSize, strides, padding, outputPadding, dataFormat, dilationRate, activation, useBias, kernelInitializer,
              biasInitializer, kernelRegularizer, biasRegularizer, activityRegularizer, kernelConstraint, biasConstraint) { }
}
