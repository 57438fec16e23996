
using Functional.Shapes;
using Functional.Functions;
using Functional.Layers;
using Functional.Models;
namespace Functional;

public static partial class Applications
{
    /// <summary>
    /// NASNet-A Mobile, NASNet (4 @ 1056) (Keras <c>keras.applications.NASNetMobile</c>; Zoph et al., "Learning Transferable
    /// Architectures for Scalable Image Recognition", CVPR 2018): a 3×3/2 stem convolution with 32 filters, two reduction cells
    /// (<c>stem_1</c>, <c>stem_2</c>), then three stacks of 4 normal cells (44, 88, 176 filters) separated by the reduction cells
    /// <c>reduce_4</c> and <c>reduce_8</c>, a ReLU, and the top. Cells are Keras's <c>_normal_a_cell</c> and
    /// <c>_reduction_a_cell</c>: ReLU–separable convolution–batch normalization pairs, 3×3 average and max poolings, and the
    /// previous cell's output adjusted to the current one (<c>adjust_*</c>: two offset 1×1/2 average-pool + 1×1 convolution
    /// paths concatenated where the widths differ, a 1×1 projection where only the channels do). Batch normalization has
    /// momentum 0.9997, epsilon 1e-3; 1×1 convolutions are <c>he_normal</c>. Default input 224×224×3, minimum 32×32.
    /// </summary>
    /// <remarks>5,326,716 parameters (5,289,978 trainable, 36,738 non-trainable) and 1,126 weight tensors with the top and
    /// 1000 classes; 4,269,716 without — as Keras's summary. Keras refuses NASNetMobile on its own torch backend (a Keras bug);
    /// nothing here depends on it. See <see cref="Applications"/> for the arguments, weights and differences from Keras.</remarks>
    /// <param name="inputShape">The image shape (rows, cols, channels); <c>null</c> for 224×224×3.</param>
    /// <param name="includeTop">Whether to include the fully connected layer at the top.</param>
    /// <param name="weights"><c>null</c> (random initialization), a path to weights saved by this library, or <c>"imagenet"</c> (not available here).</param>
    /// <param name="inputTensor">An existing tensor to use as the image input (Keras's <c>input_tensor</c>).</param>
    /// <param name="pooling">Without the top: <c>null</c> (the 4-D feature map), <c>"avg"</c> or <c>"max"</c> global pooling.</param>
    /// <param name="classes">The number of classes of the top.</param>
    /// <param name="classifierActivation">The top's activation; <c>null</c> returns logits.</param>
    /// <param name="name">The model name.</param>
    public static Model NASNetMobile(Shape? inputShape = null, bool includeTop = true, string? weights = null, SymbolicTensor? inputTensor = null,
        string? pooling = null, int classes = 1000, string? classifierActivation = "softmax", string name = "nasnet_mobile") =>
        // Keras: "if not include_top and input_shape is None: input_shape = (224, 224, 3)" (the mobile net only).
        NASNet("NASNetMobile", inputShape ?? (!includeTop && inputTensor is null ? new Shape(224, 224, 3) : null), penultimateFilters: 1056, numBlocks: 4, stemBlockFilters: 32, skipReduction: false,
            filterMultiplier: 2, includeTop, weights, inputTensor, pooling, classes, defaultSize: 224, classifierActivation, name);

    /// <summary>
    /// NASNet-A Large, NASNet (6 @ 4032) (Keras <c>keras.applications.NASNetLarge</c>): as <see cref="NASNetMobile"/> with a
    /// 96-filter stem, three stacks of 6 normal cells (168, 336, 672 filters) separated by <c>reduce_6</c> and <c>reduce_12</c>,
    /// and the reduction cells' own inputs skipped (<c>skip_reduction</c>: the cell after a reduction sees the cell before it as
    /// its previous input). Default input 331×331×3, minimum 32×32.
    /// </summary>
    /// <remarks>88,949,818 parameters (88,753,150 trainable, 196,668 non-trainable) and 1,546 weight tensors with the top and
    /// 1000 classes; 84,916,818 without — as Keras's summary at 331×331. A deliberate difference: without <c>inputShape</c>
    /// and without the top, Keras declares <c>(None, None, 3)</c>, where its width comparison in <c>_adjust_block</c> cannot
    /// see the reductions, skips them, and gives a network whose additions fail at run time for every image size; here the
    /// default stays 331×331×3 (as Keras itself does for NASNetMobile). Unknown sizes given explicitly are taken as given.
    /// See <see cref="Applications"/> for the arguments, weights and differences from Keras.</remarks>
    /// <param name="inputShape">The image shape (rows, cols, channels); <c>null</c> for 331×331×3.</param>
    /// <param name="includeTop">Whether to include the fully connected layer at the top.</param>
    /// <param name="weights"><c>null</c> (random initialization), a path to weights saved by this library, or <c>"imagenet"</c> (not available here).</param>
    /// <param name="inputTensor">An existing tensor to use as the image input (Keras's <c>input_tensor</c>).</param>
    /// <param name="pooling">Without the top: <c>null</c> (the 4-D feature map), <c>"avg"</c> or <c>"max"</c> global pooling.</param>
    /// <param name="classes">The number of classes of the top.</param>
    /// <param name="classifierActivation">The top's activation; <c>null</c> returns logits.</param>
    /// <param name="name">The model name.</param>
    public static Model NASNetLarge(Shape? inputShape = null, bool includeTop = true, string? weights = null, SymbolicTensor? inputTensor = null,
        string? pooling = null, int classes = 1000, string? classifierActivation = "softmax", string name = "nasnet_large") =>
        NASNet("NASNetLarge", inputShape ?? (!includeTop && inputTensor is null ? new Shape(331, 331, 3) : null), penultimateFilters: 4032, numBlocks: 6, stemBlockFilters: 96, skipReduction: true,
            filterMultiplier: 2, includeTop, weights, inputTensor, pooling, classes, defaultSize: 331, classifierActivation, name);

    /// <summary>Keras's <c>NASNet</c> builder (channels_last) for the two published configurations.</summary>
    private static Model NASNet(string app, Shape? inputShape, int penultimateFilters, int numBlocks, int stemBlockFilters, bool skipReduction,
        int filterMultiplier, bool includeTop, string? weights, SymbolicTensor? inputTensor, string? pooling, int classes, int defaultSize,
        string? classifierActivation, string name)
    {
        if (inputShape is { IsFullyKnown: false } && weights == "imagenet")
            throw new ArgumentException(
                $"{app}: When specifying the input shape of a NASNet and loading `ImageNet` weights, the input_shape argument must be static " +
                $"(no None entries). Got: `input_shape={inputShape.ToSampleString()}`.", nameof(inputShape));
        var shape = Prologue(app, includeTop, weights, inputTensor, inputShape, pooling, classes, defaultSize, minSize: 32);
        var activation = Epilogue(app, includeTop, classifierActivation, weights);
        var input = ImageInput(inputTensor, shape);

        var filters = penultimateFilters / 24;
        var x = new Conv2D(stemBlockFilters, (3, 3), strides: (2, 2), padding: "valid", useBias: false, kernelInitializer: "he_normal")
            { Name = "stem_conv1" }.Call(input);
        x = NASNetBn("stem_bn1").Call(x);

        SymbolicTensor? p = null;
        (x, p) = ReductionACell(x, p, filters / (filterMultiplier * filterMultiplier), "stem_1");
        (x, p) = ReductionACell(x, p, filters / filterMultiplier, "stem_2");
        for (var i = 0; i < numBlocks; i++)
            (x, p) = NormalACell(x, p, filters, $"{i}");

        (x, var p0) = ReductionACell(x, p, filters * filterMultiplier, $"reduce_{numBlocks}");
        if (!skipReduction) p = p0;
        for (var i = 0; i < numBlocks; i++)
            (x, p) = NormalACell(x, p, filters * filterMultiplier, $"{numBlocks + i + 1}");

        (x, p0) = ReductionACell(x, p, filters * filterMultiplier * filterMultiplier, $"reduce_{2 * numBlocks}");
        if (!skipReduction) p = p0;
        for (var i = 0; i < numBlocks; i++)
            (x, p) = NormalACell(x, p, filters * filterMultiplier * filterMultiplier, $"{2 * numBlocks + i + 1}");

        x = NASNetRelu(x);
        if (includeTop)
        {
            x = new GlobalAveragePooling2D().Call(x);
            x = new Dense(classes, activation: activation) { Name = "predictions" }.Call(x);
        }
        else
            x = FeaturePooling(x, pooling);
        return Finish(input, x, name, weights);
    }

    /// <summary>NASNet's batch normalization: momentum 0.9997, epsilon 1e-3.</summary>
    private static BatchNormalization NASNetBn(string name) => new(axis: -1, momentum: 0.9997, epsilon: 1e-3) { Name = name };

    /// <summary>A ReLU <see cref="Activation"/>, unnamed (Keras's default name) unless given one.</summary>
    private static SymbolicTensor NASNetRelu(SymbolicTensor x, string? name = null) => new Activation("relu") { Name = name }.Call(x);

    /// <summary>NASNet's 1×1 convolution: same padding, no bias, <c>he_normal</c>.</summary>
    private static SymbolicTensor NASNetConv1x1(SymbolicTensor x, int filters, string name) =>
        new Conv2D(filters, (1, 1), strides: (1, 1), padding: "same", useBias: false, kernelInitializer: "he_normal") { Name = name }.Call(x);

    /// <summary>NASNet's 3×3 average pooling.</summary>
    private static SymbolicTensor NASNetAvgPool(SymbolicTensor x, int strides, string padding, string name) =>
        new AveragePooling2D((3, 3), strides: (strides, strides), padding: padding) { Name = name }.Call(x);

    /// <summary>Keras's <c>_separable_conv_block</c>: twice ReLU, separable convolution, batch normalization; a strided first
    /// convolution is zero-padded (<c>correct_pad</c>) and "valid".</summary>
    private static SymbolicTensor SeparableConvBlock(SymbolicTensor ip, int filters, int kernelSize, int strides, string blockId)
    {
        var x = NASNetRelu(ip);
        var padding = "same";
        if (strides == 2)
        {
            x = new ZeroPadding2D(CorrectPad(x.Shape, kernelSize)) { Name = $"separable_conv_1_pad_{blockId}" }.Call(x);
            padding = "valid";
        }
        x = new SeparableConv2D(filters, (kernelSize, kernelSize), strides: (strides, strides), padding: padding, useBias: false)
            { Name = $"separable_conv_1_{blockId}" }.Call(x);
        x = NASNetBn($"separable_conv_1_bn_{blockId}").Call(x);
        x = NASNetRelu(x);
        x = new SeparableConv2D(filters, (kernelSize, kernelSize), padding: "same", useBias: false)
            { Name = $"separable_conv_2_{blockId}" }.Call(x);
        return NASNetBn($"separable_conv_2_bn_{blockId}").Call(x);
    }

    /// <summary>
    /// Keras's <c>_adjust_block</c>: the previous path <paramref name="p"/> made to match <paramref name="ip"/>. Keras compares
    /// the widths (<c>shape[-2]</c>) only; a wider <paramref name="p"/> is halved by two 1×1/2 average poolings — the second
    /// on <paramref name="p"/> shifted one pixel up-left (zero padding bottom/right, cropping top/left) — each followed by a
    /// 1×1 convolution to half the filters, concatenated; otherwise a channel mismatch gets a 1×1 projection.
    /// </summary>
    private static SymbolicTensor AdjustBlock(SymbolicTensor? p, SymbolicTensor ip, int filters, string blockId)
    {
        if (p is null) return ip;
        if (p.Shape[1] != ip.Shape[1])
        {
            p = NASNetRelu(p, $"adjust_relu_1_{blockId}");
            var p1 = new AveragePooling2D((1, 1), strides: (2, 2), padding: "valid") { Name = $"adjust_avg_pool_1_{blockId}" }.Call(p);
            p1 = NASNetConv1x1(p1, filters / 2, $"adjust_conv_1_{blockId}");
            var p2 = new ZeroPadding2D(SidePairs.FromPairs((0, 1), (0, 1))).Call(p);
            p2 = new Cropping2D(SidePairs.FromPairs((1, 0), (1, 0))).Call(p2);
            p2 = new AveragePooling2D((1, 1), strides: (2, 2), padding: "valid") { Name = $"adjust_avg_pool_2_{blockId}" }.Call(p2);
            p2 = NASNetConv1x1(p2, filters / 2, $"adjust_conv_2_{blockId}");
            p = new Concatenate(axis: -1).Call(p1, p2);
            return NASNetBn($"adjust_bn_{blockId}").Call(p);
        }
        if (p.Shape[^1] != filters)
        {
            p = NASNetRelu(p);
            p = NASNetConv1x1(p, filters, $"adjust_conv_projection_{blockId}");
            return NASNetBn($"adjust_bn_{blockId}").Call(p);
        }
        return p;
    }

    /// <summary>Keras's <c>_normal_a_cell</c> (Fig. 4 of the paper); returns the cell's output and its input (the next cell's <c>p</c>).</summary>
    private static (SymbolicTensor X, SymbolicTensor P) NormalACell(SymbolicTensor ip, SymbolicTensor? previous, int filters, string blockId)
    {
        var p = AdjustBlock(previous, ip, filters, blockId);
        var h = NASNetRelu(ip);
        h = NASNetConv1x1(h, filters, $"normal_conv_1_{blockId}");
        h = NASNetBn($"normal_bn_1_{blockId}").Call(h);

        var x11 = SeparableConvBlock(h, filters, 5, 1, $"normal_left1_{blockId}");
        var x12 = SeparableConvBlock(p, filters, 3, 1, $"normal_right1_{blockId}");
        var x1 = new Add { Name = $"normal_add_1_{blockId}" }.Call(x11, x12);

        var x21 = SeparableConvBlock(p, filters, 5, 1, $"normal_left2_{blockId}");
        var x22 = SeparableConvBlock(p, filters, 3, 1, $"normal_right2_{blockId}");
        var x2 = new Add { Name = $"normal_add_2_{blockId}" }.Call(x21, x22);

        var x3 = NASNetAvgPool(h, 1, "same", $"normal_left3_{blockId}");
        x3 = new Add { Name = $"normal_add_3_{blockId}" }.Call(x3, p);

        var x41 = NASNetAvgPool(p, 1, "same", $"normal_left4_{blockId}");
        var x42 = NASNetAvgPool(p, 1, "same", $"normal_right4_{blockId}");
        var x4 = new Add { Name = $"normal_add_4_{blockId}" }.Call(x41, x42);

        var x5 = SeparableConvBlock(h, filters, 3, 1, $"normal_left5_{blockId}");
        x5 = new Add { Name = $"normal_add_5_{blockId}" }.Call(x5, h);

        var x = new Concatenate(axis: -1) { Name = $"normal_concat_{blockId}" }.Call(p, x1, x2, x3, x4, x5);
        return (x, ip);
    }

    /// <summary>Keras's <c>_reduction_a_cell</c> (Fig. 4 of the paper): halves the spatial size; returns the output and the cell's input.</summary>
    private static (SymbolicTensor X, SymbolicTensor P) ReductionACell(SymbolicTensor ip, SymbolicTensor? previous, int filters, string blockId)
    {
        var p = AdjustBlock(previous, ip, filters, blockId);
        var h = NASNetRelu(ip);
        h = NASNetConv1x1(h, filters, $"reduction_conv_1_{blockId}");
        h = NASNetBn($"reduction_bn_1_{blockId}").Call(h);
        var h3 = new ZeroPadding2D(CorrectPad(h.Shape, 3)) { Name = $"reduction_pad_1_{blockId}" }.Call(h);

        var x11 = SeparableConvBlock(h, filters, 5, 2, $"reduction_left1_{blockId}");
        var x12 = SeparableConvBlock(p, filters, 7, 2, $"reduction_right1_{blockId}");
        var x1 = new Add { Name = $"reduction_add_1_{blockId}" }.Call(x11, x12);

        var x21 = new MaxPooling2D((3, 3), strides: (2, 2), padding: "valid") { Name = $"reduction_left2_{blockId}" }.Call(h3);
        var x22 = SeparableConvBlock(p, filters, 7, 2, $"reduction_right2_{blockId}");
        var x2 = new Add { Name = $"reduction_add_2_{blockId}" }.Call(x21, x22);

        var x31 = NASNetAvgPool(h3, 2, "valid", $"reduction_left3_{blockId}");
        var x32 = SeparableConvBlock(p, filters, 5, 2, $"reduction_right3_{blockId}");
        var x3 = new Add { Name = $"reduction_add3_{blockId}" }.Call(x31, x32);

        var x4 = NASNetAvgPool(x1, 1, "same", $"reduction_left4_{blockId}");
        x4 = new Add().Call(x2, x4);

        // Keras reuses "reduction_left4" as this block's id: its layers are separable_conv_*_reduction_left4_*, no clash.
        var x51 = SeparableConvBlock(x1, filters, 3, 1, $"reduction_left4_{blockId}");
        var x52 = new MaxPooling2D((3, 3), strides: (2, 2), padding: "valid") { Name = $"reduction_right5_{blockId}" }.Call(h3);
        var x5 = new Add { Name = $"reduction_add4_{blockId}" }.Call(x51, x52);

        var x = new Concatenate(axis: -1) { Name = $"reduction_concat_{blockId}" }.Call(x2, x3, x4, x5);
        return (x, ip);
    }
}
