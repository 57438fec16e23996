
using Functional.Shapes;
using Functional.Functions;
using Functional.Layers;
using Functional.Models;
namespace Functional;

public static partial class Applications
{
    /// <summary>
    /// InceptionV3 (Keras <c>keras.applications.InceptionV3</c>; Szegedy et al., "Rethinking the Inception Architecture for
    /// Computer Vision", CVPR 2016): a convolutional stem, three 35×35 modules (<c>mixed0</c>–<c>mixed2</c>), a grid reduction
    /// (<c>mixed3</c>), four 17×17 modules with factorised 7×1/1×7 convolutions (<c>mixed4</c>–<c>mixed7</c>), a reduction
    /// (<c>mixed8</c>) and two 8×8 modules with split 1×3/3×1 branches (<c>mixed9</c>, <c>mixed10</c>). Every convolution is
    /// bias-free and followed by batch normalization without scale and a ReLU; the unnamed layers get Keras's default names
    /// (<c>conv2d</c>, <c>batch_normalization</c>, <c>activation</c>, …) in Keras's order. Default input 299×299×3, minimum 75×75.
    /// </summary>
    /// <remarks>23,851,784 parameters (34,432 non-trainable) with the top and 1000 classes; 21,802,784 without — as Keras's summary.
    /// See <see cref="Applications"/> for the arguments, weights and differences from Keras.</remarks>
    /// <param name="includeTop">Whether to include the fully connected layer at the top.</param>
    /// <param name="weights"><c>null</c> (random initialization), a path to weights saved by this library, or <c>"imagenet"</c> (not available here).</param>
    /// <param name="inputTensor">An existing tensor to use as the image input (Keras's <c>input_tensor</c>).</param>
    /// <param name="inputShape">The image shape (rows, cols, channels); <c>null</c> for 299×299×3.</param>
    /// <param name="pooling">Without the top: <c>null</c> (the 4-D feature map), <c>"avg"</c> or <c>"max"</c> global pooling.</param>
    /// <param name="classes">The number of classes of the top.</param>
    /// <param name="classifierActivation">The top's activation; <c>null</c> returns logits.</param>
    /// <param name="name">The model name.</param>
    public static Model InceptionV3(bool includeTop = true, string? weights = null, SymbolicTensor? inputTensor = null, Shape? inputShape = null,
        string? pooling = null, int classes = 1000, string? classifierActivation = "softmax", string name = "inception_v3")
    {
        const string app = "InceptionV3";
        var shape = Prologue(app, includeTop, weights, inputTensor, inputShape, pooling, classes, defaultSize: 299, minSize: 75);
        var activation = Epilogue(app, includeTop, classifierActivation, weights);
        var input = ImageInput(inputTensor, shape);

        // Keras's inception_v3.conv2d_bn: bias-free convolution, batch normalization without scale, ReLU.
        static SymbolicTensor ConvBn(SymbolicTensor x, int filters, int rows, int cols, string padding = "same", int strides = 1, string? name = null)
        {
            x = new Conv2D(filters, (rows, cols), strides: strides, padding: padding, useBias: false) { Name = name is null ? null : name + "_conv" }.Call(x);
            x = new BatchNormalization(axis: 3, scale: false) { Name = name is null ? null : name + "_bn" }.Call(x);
            return new Activation("relu") { Name = name }.Call(x);
        }
        static SymbolicTensor AvgPool(SymbolicTensor x) => new AveragePooling2D((3, 3), strides: (1, 1), padding: "same").Call(x);
        static SymbolicTensor Concat(string? name, params SymbolicTensor[] xs) => new Concatenate(axis: 3) { Name = name }.Call(xs);

        var x = ConvBn(input, 32, 3, 3, strides: 2, padding: "valid");
        x = ConvBn(x, 32, 3, 3, padding: "valid");
        x = ConvBn(x, 64, 3, 3);
        x = new MaxPooling2D((3, 3), strides: (2, 2)).Call(x);
        x = ConvBn(x, 80, 1, 1, padding: "valid");
        x = ConvBn(x, 192, 3, 3, padding: "valid");
        x = new MaxPooling2D((3, 3), strides: (2, 2)).Call(x);

        // mixed 0, 1, 2: 35 x 35 x 256, 288, 288
        for (var i = 0; i < 3; i++)
        {
            var branch1x1 = ConvBn(x, 64, 1, 1);
            var branch5x5 = ConvBn(x, 48, 1, 1);
            branch5x5 = ConvBn(branch5x5, 64, 5, 5);
            var branch3x3dbl = ConvBn(x, 64, 1, 1);
            branch3x3dbl = ConvBn(branch3x3dbl, 96, 3, 3);
            branch3x3dbl = ConvBn(branch3x3dbl, 96, 3, 3);
            var branchPool = ConvBn(AvgPool(x), i == 0 ? 32 : 64, 1, 1);
            x = Concat($"mixed{i}", branch1x1, branch5x5, branch3x3dbl, branchPool);
        }

        // mixed 3: 17 x 17 x 768
        {
            var branch3x3 = ConvBn(x, 384, 3, 3, strides: 2, padding: "valid");
            var branch3x3dbl = ConvBn(x, 64, 1, 1);
            branch3x3dbl = ConvBn(branch3x3dbl, 96, 3, 3);
            branch3x3dbl = ConvBn(branch3x3dbl, 96, 3, 3, strides: 2, padding: "valid");
            var branchPool = new MaxPooling2D((3, 3), strides: (2, 2)).Call(x);
            x = Concat("mixed3", branch3x3, branch3x3dbl, branchPool);
        }

        // mixed 4, 5, 6, 7: 17 x 17 x 768 with 128, 160, 160, 192 channels inside the 7x7 branches
        int[] sevens = [128, 160, 160, 192];
        for (var i = 0; i < 4; i++)
        {
            var c = sevens[i];
            var branch1x1 = ConvBn(x, 192, 1, 1);
            var branch7x7 = ConvBn(x, c, 1, 1);
            branch7x7 = ConvBn(branch7x7, c, 1, 7);
            branch7x7 = ConvBn(branch7x7, 192, 7, 1);
            var branch7x7dbl = ConvBn(x, c, 1, 1);
            branch7x7dbl = ConvBn(branch7x7dbl, c, 7, 1);
            branch7x7dbl = ConvBn(branch7x7dbl, c, 1, 7);
            branch7x7dbl = ConvBn(branch7x7dbl, c, 7, 1);
            branch7x7dbl = ConvBn(branch7x7dbl, 192, 1, 7);
            var branchPool = ConvBn(AvgPool(x), 192, 1, 1);
            x = Concat($"mixed{4 + i}", branch1x1, branch7x7, branch7x7dbl, branchPool);
        }

        // mixed 8: 8 x 8 x 1280
        {
            var branch3x3 = ConvBn(x, 192, 1, 1);
            branch3x3 = ConvBn(branch3x3, 320, 3, 3, strides: 2, padding: "valid");
            var branch7x7x3 = ConvBn(x, 192, 1, 1);
            branch7x7x3 = ConvBn(branch7x7x3, 192, 1, 7);
            branch7x7x3 = ConvBn(branch7x7x3, 192, 7, 1);
            branch7x7x3 = ConvBn(branch7x7x3, 192, 3, 3, strides: 2, padding: "valid");
            var branchPool = new MaxPooling2D((3, 3), strides: (2, 2)).Call(x);
            x = Concat("mixed8", branch3x3, branch7x7x3, branchPool);
        }

        // mixed 9, 10: 8 x 8 x 2048
        for (var i = 0; i < 2; i++)
        {
            var branch1x1 = ConvBn(x, 320, 1, 1);
            var branch3x3 = ConvBn(x, 384, 1, 1);
            var branch3x3a = ConvBn(branch3x3, 384, 1, 3);
            var branch3x3b = ConvBn(branch3x3, 384, 3, 1);
            branch3x3 = Concat($"mixed9_{i}", branch3x3a, branch3x3b);
            var branch3x3dbl = ConvBn(x, 448, 1, 1);
            branch3x3dbl = ConvBn(branch3x3dbl, 384, 3, 3);
            var branch3x3dblA = ConvBn(branch3x3dbl, 384, 1, 3);
            var branch3x3dblB = ConvBn(branch3x3dbl, 384, 3, 1);
            branch3x3dbl = Concat(null, branch3x3dblA, branch3x3dblB);
            var branchPool = ConvBn(AvgPool(x), 192, 1, 1);
            x = Concat($"mixed{9 + i}", branch1x1, branch3x3, branch3x3dbl, branchPool);
        }

        if (includeTop)
        {
            x = new GlobalAveragePooling2D { Name = "avg_pool" }.Call(x);
            x = new Dense(classes, activation: activation) { Name = "predictions" }.Call(x);
        }
        else
            x = FeaturePooling(x, pooling);
        return Finish(input, x, name, weights);
    }

    /// <summary>
    /// InceptionResNetV2 (Keras <c>keras.applications.InceptionResNetV2</c>; Szegedy et al., "Inception-v4, Inception-ResNet
    /// and the Impact of Residual Connections on Learning", AAAI 2017): the stem, <c>mixed_5b</c>, 10 Inception-ResNet-A blocks
    /// (<c>block35_*</c>, residual scale 0.17), reduction <c>mixed_6a</c>, 20 Inception-ResNet-B blocks (<c>block17_*</c>,
    /// 0.1), reduction <c>mixed_7a</c>, 10 Inception-ResNet-C blocks (<c>block8_*</c>, 0.2, the last with scale 1 and no
    /// activation) and <c>conv_7b</c>. Each residual sum is Keras's <see cref="CustomScaleLayer"/>. Default input 299×299×3,
    /// minimum 75×75.
    /// </summary>
    /// <remarks>55,873,736 parameters (60,544 non-trainable) with the top and 1000 classes; 54,336,736 without — as Keras's summary.</remarks>
    /// <inheritdoc cref="InceptionV3" path="/param"/>
    public static Model InceptionResNetV2(bool includeTop = true, string? weights = null, SymbolicTensor? inputTensor = null, Shape? inputShape = null,
        string? pooling = null, int classes = 1000, string? classifierActivation = "softmax", string name = "inception_resnet_v2")
    {
        const string app = "InceptionResNetV2";
        var shape = Prologue(app, includeTop, weights, inputTensor, inputShape, pooling, classes, defaultSize: 299, minSize: 75);
        var activation = Epilogue(app, includeTop, classifierActivation, weights);
        var input = ImageInput(inputTensor, shape);

        // Keras's inception_resnet_v2.conv2d_bn.
        static SymbolicTensor ConvBn(SymbolicTensor x, int filters, IntTuple kernelSize, int strides = 1, string padding = "same",
            string? activation = "relu", bool useBias = false, string? name = null)
        {
            x = new Conv2D(filters, kernelSize, strides: strides, padding: padding, useBias: useBias) { Name = name }.Call(x);
            if (!useBias) x = new BatchNormalization(axis: 3, scale: false) { Name = name is null ? null : name + "_bn" }.Call(x);
            if (activation is not null) x = new Activation(activation) { Name = name is null ? null : name + "_ac" }.Call(x);
            return x;
        }
        static SymbolicTensor Concat(string name, params SymbolicTensor[] xs) => new Concatenate(axis: 3) { Name = name }.Call(xs);

        SymbolicTensor Block(SymbolicTensor x, double scale, string type, int index, string? blockActivation = "relu")
        {
            SymbolicTensor[] branches;
            switch (type)
            {
                case "block35":
                {
                    var b0 = ConvBn(x, 32, 1);
                    var b1 = ConvBn(ConvBn(x, 32, 1), 32, 3);
                    var b2 = ConvBn(ConvBn(ConvBn(x, 32, 1), 48, 3), 64, 3);
                    branches = [b0, b1, b2];
                    break;
                }
                case "block17":
                {
                    var b0 = ConvBn(x, 192, 1);
                    var b1 = ConvBn(ConvBn(ConvBn(x, 128, 1), 160, (1, 7)), 192, (7, 1));
                    branches = [b0, b1];
                    break;
                }
                default:
                {
                    var b0 = ConvBn(x, 192, 1);
                    var b1 = ConvBn(ConvBn(ConvBn(x, 192, 1), 224, (1, 3)), 256, (3, 1));
                    branches = [b0, b1];
                    break;
                }
            }
            var blockName = $"{type}_{index}";
            var mixed = Concat(blockName + "_mixed", branches);
            var up = ConvBn(mixed, x.Shape.Known(-1), 1, activation: null, useBias: true, name: blockName + "_conv");
            x = new CustomScaleLayer(scale).Call(x, up);
            return blockActivation is null ? x : new Activation(blockActivation) { Name = blockName + "_ac" }.Call(x);
        }

        // Stem: 35 x 35 x 192
        var x = ConvBn(input, 32, 3, strides: 2, padding: "valid");
        x = ConvBn(x, 32, 3, padding: "valid");
        x = ConvBn(x, 64, 3);
        x = new MaxPooling2D(3, strides: 2).Call(x);
        x = ConvBn(x, 80, 1, padding: "valid");
        x = ConvBn(x, 192, 3, padding: "valid");
        x = new MaxPooling2D(3, strides: 2).Call(x);

        // Mixed 5b (Inception-A): 35 x 35 x 320
        {
            var b0 = ConvBn(x, 96, 1);
            var b1 = ConvBn(ConvBn(x, 48, 1), 64, 5);
            var b2 = ConvBn(ConvBn(ConvBn(x, 64, 1), 96, 3), 96, 3);
            var bp = ConvBn(new AveragePooling2D(3, strides: 1, padding: "same").Call(x), 64, 1);
            x = Concat("mixed_5b", b0, b1, b2, bp);
        }
        for (var i = 1; i <= 10; i++) x = Block(x, 0.17, "block35", i);

        // Mixed 6a (Reduction-A): 17 x 17 x 1088
        {
            var b0 = ConvBn(x, 384, 3, strides: 2, padding: "valid");
            var b1 = ConvBn(ConvBn(ConvBn(x, 256, 1), 256, 3), 384, 3, strides: 2, padding: "valid");
            var bp = new MaxPooling2D(3, strides: 2, padding: "valid").Call(x);
            x = Concat("mixed_6a", b0, b1, bp);
        }
        for (var i = 1; i <= 20; i++) x = Block(x, 0.1, "block17", i);

        // Mixed 7a (Reduction-B): 8 x 8 x 2080
        {
            var b0 = ConvBn(ConvBn(x, 256, 1), 384, 3, strides: 2, padding: "valid");
            var b1 = ConvBn(ConvBn(x, 256, 1), 288, 3, strides: 2, padding: "valid");
            var b2 = ConvBn(ConvBn(ConvBn(x, 256, 1), 288, 3), 320, 3, strides: 2, padding: "valid");
            var bp = new MaxPooling2D(3, strides: 2, padding: "valid").Call(x);
            x = Concat("mixed_7a", b0, b1, b2, bp);
        }
        for (var i = 1; i <= 9; i++) x = Block(x, 0.2, "block8", i);
        x = Block(x, 1.0, "block8", 10, blockActivation: null);

        // Final convolution block: 8 x 8 x 1536
        x = ConvBn(x, 1536, 1, name: "conv_7b");

        if (includeTop)
        {
            x = new GlobalAveragePooling2D { Name = "avg_pool" }.Call(x);
            x = new Dense(classes, activation: activation) { Name = "predictions" }.Call(x);
        }
        else
            x = FeaturePooling(x, pooling);
        return Finish(input, x, name, weights);
    }
}
