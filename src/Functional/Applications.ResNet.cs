
using Functional.Shapes;
using Functional.Functions;
using Functional.Layers;
using Functional.Models;
namespace Functional;

public static partial class Applications
{
    /// <summary>
    /// ResNet50 (Keras <c>keras.applications.ResNet50</c>; He et al., "Deep Residual Learning for Image Recognition", CVPR 2016):
    /// a 7×7/2 stem and max pooling, then bottleneck stacks of 3, 4, 6 and 3 blocks (<c>conv2</c>…<c>conv5</c>, 64…512 filters,
    /// ×4 at each block's output), global average pooling (<c>avg_pool</c>) and <c>predictions</c>. Batch normalization with
    /// epsilon 1.001e-5, as Keras. Default input 224×224×3, minimum 32×32.
    /// </summary>
    /// <remarks>25,636,712 parameters (53,120 non-trainable) with the top and 1000 classes; 23,587,712 without — as Keras's summary.
    /// See <see cref="Applications"/> for the arguments, weights and differences from Keras.</remarks>
    /// <param name="includeTop">Whether to include the fully connected layer at the top.</param>
    /// <param name="weights"><c>null</c> (random initialization), a path to weights saved by this library, or <c>"imagenet"</c> (not available here).</param>
    /// <param name="inputTensor">An existing tensor to use as the image input (Keras's <c>input_tensor</c>).</param>
    /// <param name="inputShape">The image shape (rows, cols, channels); <c>null</c> for 224×224×3.</param>
    /// <param name="pooling">Without the top: <c>null</c> (the 4-D feature map), <c>"avg"</c> or <c>"max"</c> global pooling.</param>
    /// <param name="classes">The number of classes of the top.</param>
    /// <param name="classifierActivation">The top's activation; <c>null</c> returns logits.</param>
    /// <param name="name">The model name.</param>
    public static Model ResNet50(bool includeTop = true, string? weights = null, SymbolicTensor? inputTensor = null, Shape? inputShape = null,
        string? pooling = null, int classes = 1000, string? classifierActivation = "softmax", string name = "resnet50") =>
        ResNet("ResNet50", [3, 4, 6, 3], preact: false, se: false, includeTop, weights, inputTensor, inputShape, pooling, classes, classifierActivation, name);

    /// <summary>ResNet101 (Keras <c>keras.applications.ResNet101</c>): as <see cref="ResNet50"/> with 3, 4, 23 and 3 blocks.</summary>
    /// <remarks>44,707,176 parameters (105,344 non-trainable) with the top and 1000 classes; 42,658,176 without.</remarks>
    /// <inheritdoc cref="ResNet50" path="/param"/>
    public static Model ResNet101(bool includeTop = true, string? weights = null, SymbolicTensor? inputTensor = null, Shape? inputShape = null,
        string? pooling = null, int classes = 1000, string? classifierActivation = "softmax", string name = "resnet101") =>
        ResNet("ResNet101", [3, 4, 23, 3], preact: false, se: false, includeTop, weights, inputTensor, inputShape, pooling, classes, classifierActivation, name);

    /// <summary>ResNet152 (Keras <c>keras.applications.ResNet152</c>): as <see cref="ResNet50"/> with 3, 8, 36 and 3 blocks.</summary>
    /// <remarks>60,419,944 parameters (151,424 non-trainable) with the top and 1000 classes; 58,370,944 without.</remarks>
    /// <inheritdoc cref="ResNet50" path="/param"/>
    public static Model ResNet152(bool includeTop = true, string? weights = null, SymbolicTensor? inputTensor = null, Shape? inputShape = null,
        string? pooling = null, int classes = 1000, string? classifierActivation = "softmax", string name = "resnet152") =>
        ResNet("ResNet152", [3, 8, 36, 3], preact: false, se: false, includeTop, weights, inputTensor, inputShape, pooling, classes, classifierActivation, name);

    /// <summary>
    /// ResNet50V2 (Keras <c>keras.applications.ResNet50V2</c>; He et al., "Identity Mappings in Deep Residual Networks", ECCV 2016):
    /// pre-activation bottleneck blocks (batch normalization and ReLU before each convolution; the stride in each stack's last
    /// block, with a 1×1 max-pooling shortcut), then <c>post_bn</c>/<c>post_relu</c>. Default input 224×224×3, minimum 32×32.
    /// </summary>
    /// <remarks>25,613,800 parameters (45,440 non-trainable) with the top and 1000 classes; 23,564,800 without.</remarks>
    /// <inheritdoc cref="ResNet50" path="/param"/>
    public static Model ResNet50V2(bool includeTop = true, string? weights = null, SymbolicTensor? inputTensor = null, Shape? inputShape = null,
        string? pooling = null, int classes = 1000, string? classifierActivation = "softmax", string name = "resnet50v2") =>
        ResNet("ResNet50V2", [3, 4, 6, 3], preact: true, se: false, includeTop, weights, inputTensor, inputShape, pooling, classes, classifierActivation, name);

    /// <summary>ResNet101V2 (Keras <c>keras.applications.ResNet101V2</c>): as <see cref="ResNet50V2"/> with 3, 4, 23 and 3 blocks.</summary>
    /// <inheritdoc cref="ResNet50" path="/param"/>
    public static Model ResNet101V2(bool includeTop = true, string? weights = null, SymbolicTensor? inputTensor = null, Shape? inputShape = null,
        string? pooling = null, int classes = 1000, string? classifierActivation = "softmax", string name = "resnet101v2") =>
        ResNet("ResNet101V2", [3, 4, 23, 3], preact: true, se: false, includeTop, weights, inputTensor, inputShape, pooling, classes, classifierActivation, name);

    /// <summary>ResNet152V2 (Keras <c>keras.applications.ResNet152V2</c>): as <see cref="ResNet50V2"/> with 3, 8, 36 and 3 blocks.</summary>
    /// <inheritdoc cref="ResNet50" path="/param"/>
    public static Model ResNet152V2(bool includeTop = true, string? weights = null, SymbolicTensor? inputTensor = null, Shape? inputShape = null,
        string? pooling = null, int classes = 1000, string? classifierActivation = "softmax", string name = "resnet152v2") =>
        ResNet("ResNet152V2", [3, 8, 36, 3], preact: true, se: false, includeTop, weights, inputTensor, inputShape, pooling, classes, classifierActivation, name);

    /// <summary>Keras's <c>ResNet</c> (v1 or pre-activation v2), optionally with squeeze-and-excitation blocks (SE-ResNet).</summary>
    private static Model ResNet(string app, int[] blocks, bool preact, bool se, bool includeTop, string? weights, SymbolicTensor? inputTensor,
        Shape? inputShape, string? pooling, int classes, string? classifierActivation, string name)
    {
        var shape = Prologue(app, includeTop, weights, inputTensor, inputShape, pooling, classes, defaultSize: 224, minSize: 32);
        var activation = Epilogue(app, includeTop, classifierActivation, weights);
        var input = ImageInput(inputTensor, shape);

        var x = new ZeroPadding2D(SidePairs.FromPairs((3, 3), (3, 3))) { Name = "conv1_pad" }.Call(input);
        x = new Conv2D(64, 7, strides: 2) { Name = "conv1_conv" }.Call(x);
        if (!preact)
        {
            x = Bn("conv1_bn").Call(x);
            x = new Activation("relu") { Name = "conv1_relu" }.Call(x);
        }
        x = new ZeroPadding2D(SidePairs.FromPairs((1, 1), (1, 1))) { Name = "pool1_pad" }.Call(x);
        x = new MaxPooling2D(3, strides: 2) { Name = "pool1_pool" }.Call(x);

        int[] filters = [64, 128, 256, 512];
        for (var s = 0; s < blocks.Length; s++)
        {
            var stack = $"conv{s + 2}";
            if (!preact)
            {
                // v1: the stride is in the first block (none in conv2).
                x = ResidualBlockV1(x, filters[s], s == 0 ? 1 : 2, convShortcut: true, $"{stack}_block1", se);
                for (var i = 2; i <= blocks[s]; i++)
                    x = ResidualBlockV1(x, filters[s], 1, convShortcut: false, $"{stack}_block{i}", se);
            }
            else
            {
                // v2: the stride is in the last block (none in conv5).
                x = ResidualBlockV2(x, filters[s], 1, convShortcut: true, $"{stack}_block1");
                for (var i = 2; i < blocks[s]; i++)
                    x = ResidualBlockV2(x, filters[s], 1, convShortcut: false, $"{stack}_block{i}");
                x = ResidualBlockV2(x, filters[s], s == blocks.Length - 1 ? 1 : 2, convShortcut: false, $"{stack}_block{blocks[s]}");
            }
        }
        if (preact)
        {
            x = Bn("post_bn").Call(x);
            x = new Activation("relu") { Name = "post_relu" }.Call(x);
        }
        if (includeTop)
        {
            x = new GlobalAveragePooling2D { Name = "avg_pool" }.Call(x);
            x = new Dense(classes, activation: activation) { Name = "predictions" }.Call(x);
        }
        else
            x = FeaturePooling(x, pooling, "avg_pool", "max_pool");
        return Finish(input, x, name, weights);
    }

    /// <summary>ResNet's batch normalization: channels last, epsilon 1.001e-5.</summary>
    private static BatchNormalization Bn(string name) => new(axis: 3, epsilon: 1.001e-5) { Name = name };

    /// <summary>Keras's <c>residual_block_v1</c>; with <paramref name="se"/>, Hu et al.'s squeeze-and-excitation on the residual before the sum.</summary>
    private static SymbolicTensor ResidualBlockV1(SymbolicTensor x, int filters, int stride, bool convShortcut, string name, bool se)
    {
        var shortcut = x;
        if (convShortcut)
        {
            shortcut = new Conv2D(4 * filters, 1, strides: stride) { Name = $"{name}_0_conv" }.Call(x);
            shortcut = Bn($"{name}_0_bn").Call(shortcut);
        }
        x = new Conv2D(filters, 1, strides: stride) { Name = $"{name}_1_conv" }.Call(x);
        x = Bn($"{name}_1_bn").Call(x);
        x = new Activation("relu") { Name = $"{name}_1_relu" }.Call(x);
        x = new Conv2D(filters, 3, padding: "same") { Name = $"{name}_2_conv" }.Call(x);
        x = Bn($"{name}_2_bn").Call(x);
        x = new Activation("relu") { Name = $"{name}_2_relu" }.Call(x);
        x = new Conv2D(4 * filters, 1) { Name = $"{name}_3_conv" }.Call(x);
        x = Bn($"{name}_3_bn").Call(x);
        if (se) x = SqueezeExcite(x, 4 * filters, 16, name);
        x = new Add { Name = $"{name}_add" }.Call(shortcut, x);
        return new Activation("relu") { Name = $"{name}_out" }.Call(x);
    }

    /// <summary>Keras's <c>residual_block_v2</c> (pre-activation).</summary>
    private static SymbolicTensor ResidualBlockV2(SymbolicTensor x, int filters, int stride, bool convShortcut, string name)
    {
        var preact = Bn($"{name}_preact_bn").Call(x);
        preact = new Activation("relu") { Name = $"{name}_preact_relu" }.Call(preact);
        var shortcut = convShortcut
            ? new Conv2D(4 * filters, 1, strides: stride) { Name = $"{name}_0_conv" }.Call(preact)
            : stride > 1 ? new MaxPooling2D(1, strides: stride).Call(x) : x;
        var y = new Conv2D(filters, 1, strides: 1, useBias: false) { Name = $"{name}_1_conv" }.Call(preact);
        y = Bn($"{name}_1_bn").Call(y);
        y = new Activation("relu") { Name = $"{name}_1_relu" }.Call(y);
        y = new ZeroPadding2D(SidePairs.FromPairs((1, 1), (1, 1))) { Name = $"{name}_2_pad" }.Call(y);
        y = new Conv2D(filters, 3, strides: stride, useBias: false) { Name = $"{name}_2_conv" }.Call(y);
        y = Bn($"{name}_2_bn").Call(y);
        y = new Activation("relu") { Name = $"{name}_2_relu" }.Call(y);
        y = new Conv2D(4 * filters, 1) { Name = $"{name}_3_conv" }.Call(y);
        return new Add { Name = $"{name}_out" }.Call(shortcut, y);
    }

    /// <summary>
    /// A squeeze-and-excitation block (Hu et al., "Squeeze-and-Excitation Networks", CVPR 2018, Fig. 3): global average pooling,
    /// a bottleneck of <c>channels / reduction</c> ReLU units, <c>channels</c> sigmoid gates, and the channel-wise rescaling.
    /// </summary>
    private static SymbolicTensor SqueezeExcite(SymbolicTensor x, int channels, int reduction, string name)
    {
        var s = new GlobalAveragePooling2D { Name = $"{name}_se_squeeze" }.Call(x);
        s = new Dense(Math.Max(1, channels / reduction), activation: "relu") { Name = $"{name}_se_reduce" }.Call(s);
        s = new Dense(channels, activation: "sigmoid") { Name = $"{name}_se_expand" }.Call(s);
        s = new Reshape((1, 1, channels)) { Name = $"{name}_se_reshape" }.Call(s);
        return new Multiply { Name = $"{name}_se_excite" }.Call(x, s);
    }
}
