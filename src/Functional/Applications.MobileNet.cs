
using Functional.Shapes;
using Functional.Functions;
using Functional.Layers;
using Functional.Models;
namespace Functional;

public static partial class Applications
{
    /// <summary>
    /// MobileNet (Keras <c>keras.applications.MobileNet</c>; Howard et al., "MobileNets: Efficient Convolutional Neural Networks
    /// for Mobile Vision Applications", 2017): a 3×3/2 convolution and 13 depthwise-separable blocks (<c>conv_dw_i</c> +
    /// <c>conv_pw_i</c>, each with batch normalization and ReLU6; strided blocks zero-pad bottom/right first), then global average
    /// pooling kept 4-D, <c>dropout</c>, the 1×1 convolution <c>conv_preds</c>, <c>reshape_2</c> and <c>predictions</c>.
    /// <paramref name="alpha"/> scales every layer's filters (<c>int(filters · alpha)</c>); <paramref name="depthMultiplier"/> is the
    /// depthwise convolutions' multiplier. Default input 224×224×3 (or the given square size among 128, 160, 192, 224), minimum 32×32.
    /// </summary>
    /// <remarks>4,253,864 parameters (21,888 non-trainable) with the top, alpha 1 and 1000 classes; 3,228,864 without — as Keras's
    /// summary. The model is named <c>mobilenet_{alpha:0.00}_{rows}</c>, e.g. <c>mobilenet_1.00_224</c>.
    /// See <see cref="Applications"/> for the arguments, weights and differences from Keras.</remarks>
    /// <param name="inputShape">The image shape (rows, cols, channels); <c>null</c> for 224×224×3.</param>
    /// <param name="alpha">The width multiplier; with <c>"imagenet"</c> weights Keras allows 0.25, 0.5, 0.75 and 1.</param>
    /// <param name="depthMultiplier">The depthwise convolutions' depth multiplier (the paper's resolution multiplier); 1 with <c>"imagenet"</c>.</param>
    /// <param name="dropout">The dropout rate before <c>conv_preds</c>.</param>
    /// <param name="includeTop">Whether to include the classification top.</param>
    /// <param name="weights"><c>null</c> (random initialization), a path to weights saved by this library, or <c>"imagenet"</c> (not available here).</param>
    /// <param name="inputTensor">An existing tensor to use as the image input (Keras's <c>input_tensor</c>).</param>
    /// <param name="pooling">Without the top: <c>null</c> (the 4-D feature map), <c>"avg"</c> or <c>"max"</c> global pooling.</param>
    /// <param name="classes">The number of classes of the top.</param>
    /// <param name="classifierActivation">The top's activation; <c>null</c> returns logits.</param>
    /// <param name="name">The model name; <c>null</c> for Keras's <c>mobilenet_{alpha}_{rows}</c>.</param>
    public static Model MobileNet(Shape? inputShape = null, double alpha = 1.0, int depthMultiplier = 1, double dropout = 1e-3,
        bool includeTop = true, string? weights = null, SymbolicTensor? inputTensor = null, string? pooling = null, int classes = 1000,
        string? classifierActivation = "softmax", string? name = null)
    {
        const string app = "MobileNet";
        var requested = inputShape ?? inputTensor?.Shape;
        var defaultSize = requested is { Rank: >= 2 } r && r[0] == r[1] && r[0] is 128 or 160 or 192 or 224 ? requested[0]!.Value : 224;
        var shape = Prologue(app, includeTop, weights, inputTensor, inputShape, pooling, classes, defaultSize, minSize: 32);
        if (!(alpha > 0) || !double.IsFinite(alpha))
            throw new ArgumentException($"{app}: expected argument 'alpha' to be a positive float. Received: alpha={Layer.FormatValue(alpha)}.", nameof(alpha));
        if (weights == "imagenet")
        {
            if (depthMultiplier != 1)
                throw new ArgumentException(
                    $"{app}: If imagenet weights are being loaded, depth multiplier must be 1. Received depth_multiplier={depthMultiplier}.", nameof(depthMultiplier));
            if (alpha is not (0.25 or 0.5 or 0.75 or 1.0))
                throw new ArgumentException(
                    $"{app}: If imagenet weights are being loaded, alpha can be one of `0.25`, `0.50`, `0.75` or `1.0` only. Received alpha={Layer.FormatValue(alpha)}.",
                    nameof(alpha));
        }
        var activation = Epilogue(app, includeTop, classifierActivation, weights);
        var input = ImageInput(inputTensor, shape);

        var x = new Conv2D((int)(32 * alpha), (3, 3), padding: "same", useBias: false, strides: (2, 2)) { Name = "conv1" }.Call(input);
        x = new BatchNormalization(axis: -1) { Name = "conv1_bn" }.Call(x);
        x = new ReLU(6.0) { Name = "conv1_relu" }.Call(x);

        (int Filters, int Stride)[] blocks =
        [
            (64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2),
            (512, 1), (512, 1), (512, 1), (512, 1), (512, 1), (1024, 2), (1024, 1),
        ];
        for (var i = 0; i < blocks.Length; i++)
        {
            var id = i + 1;
            var (filters, stride) = blocks[i];
            if (stride != 1) x = new ZeroPadding2D(SidePairs.FromPairs((0, 1), (0, 1))) { Name = $"conv_pad_{id}" }.Call(x);
            x = new DepthwiseConv2D((3, 3), padding: stride == 1 ? "same" : "valid", depthMultiplier: depthMultiplier, strides: (stride, stride),
                useBias: false) { Name = $"conv_dw_{id}" }.Call(x);
            x = new BatchNormalization(axis: -1) { Name = $"conv_dw_{id}_bn" }.Call(x);
            x = new ReLU(6.0) { Name = $"conv_dw_{id}_relu" }.Call(x);
            x = new Conv2D((int)(filters * alpha), (1, 1), padding: "same", useBias: false, strides: (1, 1)) { Name = $"conv_pw_{id}" }.Call(x);
            x = new BatchNormalization(axis: -1) { Name = $"conv_pw_{id}_bn" }.Call(x);
            x = new ReLU(6.0) { Name = $"conv_pw_{id}_relu" }.Call(x);
        }

        if (includeTop)
        {
            x = new GlobalAveragePooling2D(keepdims: true).Call(x);
            x = new Dropout(dropout) { Name = "dropout" }.Call(x);
            x = new Conv2D(classes, (1, 1), padding: "same") { Name = "conv_preds" }.Call(x);
            x = new Reshape(new IntTuple(classes)) { Name = "reshape_2" }.Call(x);
            x = new Activation(activation) { Name = "predictions" }.Call(x);
        }
        else
            x = FeaturePooling(x, pooling);
        return Finish(input, x, name ?? $"mobilenet_{TwoDecimals(alpha)}_{Shape.Dim(shape[0])}", weights);
    }

    /// <summary>
    /// MobileNetV2 (Keras <c>keras.applications.MobileNetV2</c>; Sandler et al., "MobileNetV2: Inverted Residuals and Linear
    /// Bottlenecks", CVPR 2018): <c>Conv1</c>, 17 inverted residual blocks (1×1 expansion ×6 — none in the first —, 3×3 depthwise,
    /// linear 1×1 projection, with a residual <c>Add</c> where shapes allow; ReLU6 and batch normalization with momentum 0.999),
    /// <c>Conv_1</c> (1280 filters, more when <paramref name="alpha"/> &gt; 1) and <c>out_relu</c>. Filters are
    /// <c>alpha</c>-scaled and rounded to multiples of 8 (Keras's <c>_make_divisible</c>). Default input 224×224×3 (or the given
    /// square size among 96, 128, 160, 192, 224), minimum 32×32.
    /// </summary>
    /// <remarks>3,538,984 parameters (34,112 non-trainable) with the top, alpha 1 and 1000 classes; 2,257,984 without — as Keras's
    /// summary. Named <c>mobilenetv2_{alpha:0.00}_{rows}</c>, e.g. <c>mobilenetv2_1.00_224</c>.</remarks>
    /// <param name="inputShape">The image shape (rows, cols, channels); <c>null</c> for 224×224×3.</param>
    /// <param name="alpha">The width multiplier; with <c>"imagenet"</c> weights Keras allows 0.35, 0.5, 0.75, 1, 1.3 and 1.4.</param>
    /// <param name="includeTop">Whether to include the classification top.</param>
    /// <param name="weights"><c>null</c> (random initialization), a path to weights saved by this library, or <c>"imagenet"</c> (not available here).</param>
    /// <param name="inputTensor">An existing tensor to use as the image input (Keras's <c>input_tensor</c>).</param>
    /// <param name="pooling">Without the top: <c>null</c> (the 4-D feature map), <c>"avg"</c> or <c>"max"</c> global pooling.</param>
    /// <param name="classes">The number of classes of the top.</param>
    /// <param name="classifierActivation">The top's activation; <c>null</c> returns logits.</param>
    /// <param name="name">The model name; <c>null</c> for Keras's <c>mobilenetv2_{alpha}_{rows}</c>.</param>
    public static Model MobileNetV2(Shape? inputShape = null, double alpha = 1.0, bool includeTop = true, string? weights = null,
        SymbolicTensor? inputTensor = null, string? pooling = null, int classes = 1000, string? classifierActivation = "softmax", string? name = null)
    {
        const string app = "MobileNetV2";
        var requested = inputShape ?? inputTensor?.Shape;
        var defaultSize = requested is { Rank: >= 2 } r && r[0] == r[1] && r[0] is 96 or 128 or 160 or 192 or 224 ? requested[0]!.Value : 224;
        var shape = Prologue(app, includeTop, weights, inputTensor, inputShape, pooling, classes, defaultSize, minSize: 32);
        if (!(alpha > 0) || !double.IsFinite(alpha))
            throw new ArgumentException($"{app}: expected argument 'alpha' to be a positive float. Received: alpha={Layer.FormatValue(alpha)}.", nameof(alpha));
        if (weights == "imagenet" && alpha is not (0.35 or 0.5 or 0.75 or 1.0 or 1.3 or 1.4))
            throw new ArgumentException(
                $"{app}: If imagenet weights are being loaded, alpha must be one of `0.35`, `0.50`, `0.75`, `1.0`, `1.3` or `1.4` only; Received `alpha={Layer.FormatValue(alpha)}`.",
                nameof(alpha));
        var activation = Epilogue(app, includeTop, classifierActivation, weights);
        var input = ImageInput(inputTensor, shape);

        static BatchNormalization Bn(string name) => new(axis: -1, epsilon: 1e-3, momentum: 0.999) { Name = name };

        var x = new Conv2D(MakeDivisible(32 * alpha, 8), kernelSize: 3, strides: (2, 2), padding: "same", useBias: false) { Name = "Conv1" }.Call(input);
        x = Bn("bn_Conv1").Call(x);
        x = new ReLU(6.0) { Name = "Conv1_relu" }.Call(x);

        (int Filters, int Stride, int Expansion)[] blocks =
        [
            (16, 1, 1),
            (24, 2, 6), (24, 1, 6),
            (32, 2, 6), (32, 1, 6), (32, 1, 6),
            (64, 2, 6), (64, 1, 6), (64, 1, 6), (64, 1, 6),
            (96, 1, 6), (96, 1, 6), (96, 1, 6),
            (160, 2, 6), (160, 1, 6), (160, 1, 6),
            (320, 1, 6),
        ];
        for (var id = 0; id < blocks.Length; id++)
        {
            var (filters, stride, expansion) = blocks[id];
            var inputs = x;
            var inChannels = x.Shape.Known(-1);
            var pointwiseFilters = MakeDivisible((int)(filters * alpha), 8);
            var prefix = $"block_{id}_";
            if (id != 0)
            {
                x = new Conv2D(expansion * inChannels, kernelSize: 1, padding: "same", useBias: false) { Name = $"{prefix}expand" }.Call(x);
                x = Bn($"{prefix}expand_BN").Call(x);
                x = new ReLU(6.0) { Name = $"{prefix}expand_relu" }.Call(x);
            }
            else
                prefix = "expanded_conv_";
            if (stride == 2) x = new ZeroPadding2D(CorrectPad(x.Shape, 3)) { Name = $"{prefix}pad" }.Call(x);
            x = new DepthwiseConv2D(kernelSize: 3, strides: stride, useBias: false, padding: stride == 1 ? "same" : "valid") { Name = $"{prefix}depthwise" }.Call(x);
            x = Bn($"{prefix}depthwise_BN").Call(x);
            x = new ReLU(6.0) { Name = $"{prefix}depthwise_relu" }.Call(x);
            x = new Conv2D(pointwiseFilters, kernelSize: 1, padding: "same", useBias: false) { Name = $"{prefix}project" }.Call(x);
            x = Bn($"{prefix}project_BN").Call(x);
            if (inChannels == pointwiseFilters && stride == 1)
                x = new Add { Name = $"{prefix}add" }.Call(inputs, x);
        }

        var lastFilters = alpha > 1.0 ? MakeDivisible(1280 * alpha, 8) : 1280;
        x = new Conv2D(lastFilters, kernelSize: 1, useBias: false) { Name = "Conv_1" }.Call(x);
        x = Bn("Conv_1_bn").Call(x);
        x = new ReLU(6.0) { Name = "out_relu" }.Call(x);

        if (includeTop)
        {
            x = new GlobalAveragePooling2D().Call(x);
            x = new Dense(classes, activation: activation) { Name = "predictions" }.Call(x);
        }
        else
            x = FeaturePooling(x, pooling);
        return Finish(input, x, name ?? $"mobilenetv2_{TwoDecimals(alpha)}_{Shape.Dim(shape[0])}", weights);
    }
}
