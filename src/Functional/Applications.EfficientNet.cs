
using Functional.Shapes;
using Functional.Functions;
using Functional.Layers;
using Functional.Models;
namespace Functional;

public static partial class Applications
{
    /// <summary>Keras's <c>CONV_KERNEL_INITIALIZER</c> for EfficientNet: VarianceScaling(2.0, fan_out, truncated_normal).</summary>
    private static Initializer EfficientNetConvInitializer => new VarianceScaling(2.0, "fan_out", "truncated_normal");

    /// <summary>Keras's <c>DENSE_KERNEL_INITIALIZER</c> for EfficientNet: VarianceScaling(1/3, fan_out, uniform).</summary>
    private static Initializer EfficientNetDenseInitializer => new VarianceScaling(1.0 / 3.0, "fan_out", "uniform");

    /// <summary>Keras's <c>DEFAULT_BLOCKS_ARGS</c>: kernel, repeats, filters in, filters out, expansion, strides (SE ratio 0.25, identity skip everywhere).</summary>
    private static readonly (int Kernel, int Repeats, int FiltersIn, int FiltersOut, int Expand, int Strides)[] EfficientNetBlocks =
    [
        (3, 1, 32, 16, 1, 1),
        (3, 2, 16, 24, 6, 2),
        (5, 2, 24, 40, 6, 2),
        (3, 3, 40, 80, 6, 2),
        (5, 3, 80, 112, 6, 1),
        (5, 4, 112, 192, 6, 2),
        (3, 1, 192, 320, 6, 1),
    ];

    /// <summary>
    /// EfficientNetB0 (Keras <c>keras.applications.EfficientNetB0</c>; Tan &amp; Le, "EfficientNet: Rethinking Model Scaling for
    /// Convolutional Neural Networks", ICML 2019). The preprocessing is part of the model, as in Keras: <c>rescaling</c>
    /// (<c>x/255</c>) and <c>normalization</c> (per-channel mean and variance as non-trainable weights, 7 parameters); then a
    /// 3×3/2 stem, 16 MBConv blocks (<c>block1a</c> … <c>block7a</c>: 1×1 expansion, depthwise convolution, squeeze-and-excitation
    /// with ratio 0.25, 1×1 projection, and a residual <c>add</c> after drop-connect — a <see cref="Dropout"/> with noise shape
    /// <c>(None, 1, 1, 1)</c> — where shapes allow), <c>top_conv</c> (1280 filters), global average pooling, <c>top_dropout</c> (0.2)
    /// and <c>predictions</c>. Swish activations; Keras's EfficientNet initializers. Default input 224×224×3, minimum 32×32.
    /// </summary>
    /// <remarks>5,330,571 parameters (42,023 non-trainable) with the top and 1000 classes; 4,049,571 without — as Keras's summary.
    /// Inputs are pixels in [0, 255]. See <see cref="Applications"/> for the arguments, weights and differences from Keras.</remarks>
    /// <param name="includeTop">Whether to include the fully connected layer at the top.</param>
    /// <param name="weights"><c>null</c> (random initialization), a path to weights saved by this library, or <c>"imagenet"</c> (not available here).</param>
    /// <param name="inputTensor">An existing tensor to use as the image input (Keras's <c>input_tensor</c>).</param>
    /// <param name="inputShape">The image shape (rows, cols, channels); <c>null</c> for 224×224×3.</param>
    /// <param name="pooling">Without the top: <c>null</c> (the 4-D feature map), <c>"avg"</c> or <c>"max"</c> global pooling.</param>
    /// <param name="classes">The number of classes of the top.</param>
    /// <param name="classifierActivation">The top's activation; <c>null</c> returns logits.</param>
    /// <param name="name">The model name.</param>
    public static Model EfficientNetB0(bool includeTop = true, string? weights = null, SymbolicTensor? inputTensor = null, Shape? inputShape = null,
        string? pooling = null, int classes = 1000, string? classifierActivation = "softmax", string name = "efficientnetb0") =>
        EfficientNet("EfficientNetB0", 1.0, 1.0, 224, 0.2, includeTop, weights, inputTensor, inputShape, pooling, classes, classifierActivation, name);

    /// <summary>EfficientNetB1 (Keras <c>keras.applications.EfficientNetB1</c>): width 1.0, depth 1.1, default input 240, dropout 0.2.</summary>
    /// <inheritdoc cref="EfficientNetB0" path="/param"/>
    public static Model EfficientNetB1(bool includeTop = true, string? weights = null, SymbolicTensor? inputTensor = null, Shape? inputShape = null,
        string? pooling = null, int classes = 1000, string? classifierActivation = "softmax", string name = "efficientnetb1") =>
        EfficientNet("EfficientNetB1", 1.0, 1.1, 240, 0.2, includeTop, weights, inputTensor, inputShape, pooling, classes, classifierActivation, name);

    /// <summary>EfficientNetB2 (Keras <c>keras.applications.EfficientNetB2</c>): width 1.1, depth 1.2, default input 260, dropout 0.3.</summary>
    /// <inheritdoc cref="EfficientNetB0" path="/param"/>
    public static Model EfficientNetB2(bool includeTop = true, string? weights = null, SymbolicTensor? inputTensor = null, Shape? inputShape = null,
        string? pooling = null, int classes = 1000, string? classifierActivation = "softmax", string name = "efficientnetb2") =>
        EfficientNet("EfficientNetB2", 1.1, 1.2, 260, 0.3, includeTop, weights, inputTensor, inputShape, pooling, classes, classifierActivation, name);

    /// <summary>EfficientNetB3 (Keras <c>keras.applications.EfficientNetB3</c>): width 1.2, depth 1.4, default input 300, dropout 0.3.</summary>
    /// <inheritdoc cref="EfficientNetB0" path="/param"/>
    public static Model EfficientNetB3(bool includeTop = true, string? weights = null, SymbolicTensor? inputTensor = null, Shape? inputShape = null,
        string? pooling = null, int classes = 1000, string? classifierActivation = "softmax", string name = "efficientnetb3") =>
        EfficientNet("EfficientNetB3", 1.2, 1.4, 300, 0.3, includeTop, weights, inputTensor, inputShape, pooling, classes, classifierActivation, name);

    /// <summary>EfficientNetB4 (Keras <c>keras.applications.EfficientNetB4</c>): width 1.4, depth 1.8, default input 380, dropout 0.4.</summary>
    /// <inheritdoc cref="EfficientNetB0" path="/param"/>
    public static Model EfficientNetB4(bool includeTop = true, string? weights = null, SymbolicTensor? inputTensor = null, Shape? inputShape = null,
        string? pooling = null, int classes = 1000, string? classifierActivation = "softmax", string name = "efficientnetb4") =>
        EfficientNet("EfficientNetB4", 1.4, 1.8, 380, 0.4, includeTop, weights, inputTensor, inputShape, pooling, classes, classifierActivation, name);

    /// <summary>EfficientNetB5 (Keras <c>keras.applications.EfficientNetB5</c>): width 1.6, depth 2.2, default input 456, dropout 0.4.</summary>
    /// <inheritdoc cref="EfficientNetB0" path="/param"/>
    public static Model EfficientNetB5(bool includeTop = true, string? weights = null, SymbolicTensor? inputTensor = null, Shape? inputShape = null,
        string? pooling = null, int classes = 1000, string? classifierActivation = "softmax", string name = "efficientnetb5") =>
        EfficientNet("EfficientNetB5", 1.6, 2.2, 456, 0.4, includeTop, weights, inputTensor, inputShape, pooling, classes, classifierActivation, name);

    /// <summary>EfficientNetB6 (Keras <c>keras.applications.EfficientNetB6</c>): width 1.8, depth 2.6, default input 528, dropout 0.5.</summary>
    /// <inheritdoc cref="EfficientNetB0" path="/param"/>
    public static Model EfficientNetB6(bool includeTop = true, string? weights = null, SymbolicTensor? inputTensor = null, Shape? inputShape = null,
        string? pooling = null, int classes = 1000, string? classifierActivation = "softmax", string name = "efficientnetb6") =>
        EfficientNet("EfficientNetB6", 1.8, 2.6, 528, 0.5, includeTop, weights, inputTensor, inputShape, pooling, classes, classifierActivation, name);

    /// <summary>EfficientNetB7 (Keras <c>keras.applications.EfficientNetB7</c>): width 2.0, depth 3.1, default input 600, dropout 0.5.</summary>
    /// <inheritdoc cref="EfficientNetB0" path="/param"/>
    public static Model EfficientNetB7(bool includeTop = true, string? weights = null, SymbolicTensor? inputTensor = null, Shape? inputShape = null,
        string? pooling = null, int classes = 1000, string? classifierActivation = "softmax", string name = "efficientnetb7") =>
        EfficientNet("EfficientNetB7", 2.0, 3.1, 600, 0.5, includeTop, weights, inputTensor, inputShape, pooling, classes, classifierActivation, name);

    /// <summary>Keras's <c>EfficientNet</c> for given width and depth coefficients (default blocks, swish, drop-connect rate 0.2, depth divisor 8).</summary>
    private static Model EfficientNet(string app, double widthCoefficient, double depthCoefficient, int defaultSize, double dropoutRate,
        bool includeTop, string? weights, SymbolicTensor? inputTensor, Shape? inputShape, string? pooling, int classes,
        string? classifierActivation, string name)
    {
        const double dropConnectRate = 0.2;
        const string swish = "swish";
        var shape = Prologue(app, includeTop, weights, inputTensor, inputShape, pooling, classes, defaultSize, minSize: 32);
        var activation = Epilogue(app, includeTop, classifierActivation, weights);
        var input = ImageInput(inputTensor, shape);

        int RoundFilters(int filters) => MakeDivisible(filters * widthCoefficient, 8);
        int RoundRepeats(int repeats) => (int)Math.Ceiling(depthCoefficient * repeats);

        var x = new Rescaling(1.0 / 255.0).Call(input);
        x = new Normalization(axis: 3).Call(x);
        x = new ZeroPadding2D(CorrectPad(x.Shape, 3)) { Name = "stem_conv_pad" }.Call(x);
        x = new Conv2D(RoundFilters(32), 3, strides: 2, padding: "valid", useBias: false, kernelInitializer: EfficientNetConvInitializer)
            { Name = "stem_conv" }.Call(x);
        x = new BatchNormalization(axis: 3) { Name = "stem_bn" }.Call(x);
        x = new Activation(swish) { Name = "stem_activation" }.Call(x);

        var b = 0;
        double total = EfficientNetBlocks.Sum(a => RoundRepeats(a.Repeats));
        for (var i = 0; i < EfficientNetBlocks.Length; i++)
        {
            var args = EfficientNetBlocks[i];
            var filtersIn = RoundFilters(args.FiltersIn);
            var filtersOut = RoundFilters(args.FiltersOut);
            var strides = args.Strides;
            for (var j = 0; j < RoundRepeats(args.Repeats); j++)
            {
                if (j > 0)
                {
                    strides = 1;
                    filtersIn = filtersOut;
                }
                x = MbConvBlock(x, swish, dropConnectRate * b / total, $"block{i + 1}{(char)('a' + j)}_",
                    filtersIn, filtersOut, args.Kernel, strides, args.Expand, seRatio: 0.25);
                b++;
            }
        }

        x = new Conv2D(RoundFilters(1280), 1, padding: "same", useBias: false, kernelInitializer: EfficientNetConvInitializer)
            { Name = "top_conv" }.Call(x);
        x = new BatchNormalization(axis: 3) { Name = "top_bn" }.Call(x);
        x = new Activation(swish) { Name = "top_activation" }.Call(x);
        if (includeTop)
        {
            x = new GlobalAveragePooling2D { Name = "avg_pool" }.Call(x);
            if (dropoutRate > 0) x = new Dropout(dropoutRate) { Name = "top_dropout" }.Call(x);
            x = new Dense(classes, activation: activation, kernelInitializer: EfficientNetDenseInitializer) { Name = "predictions" }.Call(x);
        }
        else
            x = FeaturePooling(x, pooling, "avg_pool", "max_pool");
        return Finish(input, x, name, weights);
    }

    /// <summary>Keras's EfficientNet <c>block</c>: an inverted residual (MBConv) block with squeeze-and-excitation.</summary>
    private static SymbolicTensor MbConvBlock(SymbolicTensor inputs, string activation, double dropRate, string name,
        int filtersIn, int filtersOut, int kernelSize, int strides, int expandRatio, double seRatio)
    {
        var filters = filtersIn * expandRatio;
        var x = inputs;
        if (expandRatio != 1)
        {
            x = new Conv2D(filters, 1, padding: "same", useBias: false, kernelInitializer: EfficientNetConvInitializer) { Name = name + "expand_conv" }.Call(x);
            x = new BatchNormalization(axis: 3) { Name = name + "expand_bn" }.Call(x);
            x = new Activation(activation) { Name = name + "expand_activation" }.Call(x);
        }
        string padding = "same";
        if (strides == 2)
        {
            x = new ZeroPadding2D(CorrectPad(x.Shape, kernelSize)) { Name = name + "dwconv_pad" }.Call(x);
            padding = "valid";
        }
        x = new DepthwiseConv2D(kernelSize, strides: strides, padding: padding, useBias: false, depthwiseInitializer: EfficientNetConvInitializer)
            { Name = name + "dwconv" }.Call(x);
        x = new BatchNormalization(axis: 3) { Name = name + "bn" }.Call(x);
        x = new Activation(activation) { Name = name + "activation" }.Call(x);

        if (seRatio > 0 && seRatio <= 1)
        {
            var filtersSe = Math.Max(1, (int)(filtersIn * seRatio));
            var se = new GlobalAveragePooling2D { Name = name + "se_squeeze" }.Call(x);
            se = new Reshape((1, 1, filters)) { Name = name + "se_reshape" }.Call(se);
            se = new Conv2D(filtersSe, 1, padding: "same", activation: activation, kernelInitializer: EfficientNetConvInitializer)
                { Name = name + "se_reduce" }.Call(se);
            se = new Conv2D(filters, 1, padding: "same", activation: "sigmoid", kernelInitializer: EfficientNetConvInitializer)
                { Name = name + "se_expand" }.Call(se);
            x = new Multiply { Name = name + "se_excite" }.Call(x, se);
        }

        x = new Conv2D(filtersOut, 1, padding: "same", useBias: false, kernelInitializer: EfficientNetConvInitializer) { Name = name + "project_conv" }.Call(x);
        x = new BatchNormalization(axis: 3) { Name = name + "project_bn" }.Call(x);
        if (strides == 1 && filtersIn == filtersOut)
        {
            if (dropRate > 0) x = new Dropout(dropRate) { NoiseShape = new IntTuple(-1, 1, 1, 1), Name = name + "drop" }.Call(x);
            x = new Add { Name = name + "add" }.Call(x, inputs);
        }
        return x;
    }
}
