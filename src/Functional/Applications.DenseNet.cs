
using Functional.Shapes;
using Functional.Functions;
using Functional.Layers;
using Functional.Models;
namespace Functional;

public static partial class Applications
{
    /// <summary>
    /// DenseNet121 (Keras <c>keras.applications.DenseNet121</c>; Huang et al., "Densely Connected Convolutional Networks",
    /// CVPR 2017): a 7×7/2 stem and max pooling, four dense blocks of 6, 12, 24 and 16 bottleneck layers (batch normalization,
    /// ReLU, 1×1 convolution to 128 channels, batch normalization, ReLU, 3×3 convolution to 32 = growth rate, concatenated to the
    /// block's input), with transition layers (batch normalization, ReLU, 1×1 convolution halving the channels, 2×2 average
    /// pooling) between them, and a final <c>bn</c>/<c>relu</c>. Default input 224×224×3, minimum 32×32.
    /// </summary>
    /// <remarks>8,062,504 parameters (83,648 non-trainable) with the top and 1000 classes; 7,037,504 without — as Keras's summary.
    /// See <see cref="Applications"/> for the arguments, weights and differences from Keras.</remarks>
    /// <param name="includeTop">Whether to include the fully connected layer at the top.</param>
    /// <param name="weights"><c>null</c> (random initialization), a path to weights saved by this library, or <c>"imagenet"</c> (not available here).</param>
    /// <param name="inputTensor">An existing tensor to use as the image input (Keras's <c>input_tensor</c>).</param>
    /// <param name="inputShape">The image shape (rows, cols, channels); <c>null</c> for 224×224×3.</param>
    /// <param name="pooling">Without the top: <c>null</c> (the 4-D feature map), <c>"avg"</c> or <c>"max"</c> global pooling.</param>
    /// <param name="classes">The number of classes of the top.</param>
    /// <param name="classifierActivation">The top's activation; <c>null</c> returns logits.</param>
    /// <param name="name">The model name.</param>
    public static Model DenseNet121(bool includeTop = true, string? weights = null, SymbolicTensor? inputTensor = null, Shape? inputShape = null,
        string? pooling = null, int classes = 1000, string? classifierActivation = "softmax", string name = "densenet121") =>
        DenseNet("DenseNet121", [6, 12, 24, 16], includeTop, weights, inputTensor, inputShape, pooling, classes, classifierActivation, name);

    /// <summary>DenseNet169 (Keras <c>keras.applications.DenseNet169</c>): as <see cref="DenseNet121"/> with dense blocks of 6, 12, 32 and 32 layers.</summary>
    /// <remarks>14,307,880 parameters (158,400 non-trainable) with the top and 1000 classes; 12,642,880 without.</remarks>
    /// <inheritdoc cref="DenseNet121" path="/param"/>
    public static Model DenseNet169(bool includeTop = true, string? weights = null, SymbolicTensor? inputTensor = null, Shape? inputShape = null,
        string? pooling = null, int classes = 1000, string? classifierActivation = "softmax", string name = "densenet169") =>
        DenseNet("DenseNet169", [6, 12, 32, 32], includeTop, weights, inputTensor, inputShape, pooling, classes, classifierActivation, name);

    /// <summary>DenseNet201 (Keras <c>keras.applications.DenseNet201</c>): as <see cref="DenseNet121"/> with dense blocks of 6, 12, 48 and 32 layers.</summary>
    /// <remarks>20,242,984 parameters (229,056 non-trainable) with the top and 1000 classes; 18,321,984 without.</remarks>
    /// <inheritdoc cref="DenseNet121" path="/param"/>
    public static Model DenseNet201(bool includeTop = true, string? weights = null, SymbolicTensor? inputTensor = null, Shape? inputShape = null,
        string? pooling = null, int classes = 1000, string? classifierActivation = "softmax", string name = "densenet201") =>
        DenseNet("DenseNet201", [6, 12, 48, 32], includeTop, weights, inputTensor, inputShape, pooling, classes, classifierActivation, name);

    private static Model DenseNet(string app, int[] blocks, bool includeTop, string? weights, SymbolicTensor? inputTensor, Shape? inputShape,
        string? pooling, int classes, string? classifierActivation, string name)
    {
        var shape = Prologue(app, includeTop, weights, inputTensor, inputShape, pooling, classes, defaultSize: 224, minSize: 32);
        var activation = Epilogue(app, includeTop, classifierActivation, weights);
        var input = ImageInput(inputTensor, shape);

        static BatchNormalization Bn(string name) => new(axis: 3, epsilon: 1.001e-5) { Name = name };
        static SymbolicTensor Relu(SymbolicTensor x, string name) => new Activation("relu") { Name = name }.Call(x);

        static SymbolicTensor ConvBlock(SymbolicTensor x, int growthRate, string name)
        {
            var x1 = Relu(Bn(name + "_0_bn").Call(x), name + "_0_relu");
            x1 = new Conv2D(4 * growthRate, 1, useBias: false) { Name = name + "_1_conv" }.Call(x1);
            x1 = Relu(Bn(name + "_1_bn").Call(x1), name + "_1_relu");
            x1 = new Conv2D(growthRate, 3, padding: "same", useBias: false) { Name = name + "_2_conv" }.Call(x1);
            return new Concatenate(axis: 3) { Name = name + "_concat" }.Call(x, x1);
        }
        static SymbolicTensor DenseBlock(SymbolicTensor x, int count, string name)
        {
            for (var i = 0; i < count; i++) x = ConvBlock(x, 32, $"{name}_block{i + 1}");
            return x;
        }
        static SymbolicTensor TransitionBlock(SymbolicTensor x, double reduction, string name)
        {
            x = Relu(Bn(name + "_bn").Call(x), name + "_relu");
            x = new Conv2D((int)(x.Shape.Known(-1) * reduction), 1, useBias: false) { Name = name + "_conv" }.Call(x);
            return new AveragePooling2D(2, strides: 2) { Name = name + "_pool" }.Call(x);
        }

        var x = new ZeroPadding2D(SidePairs.FromPairs((3, 3), (3, 3))).Call(input);
        x = new Conv2D(64, 7, strides: 2, useBias: false) { Name = "conv1_conv" }.Call(x);
        x = Bn("conv1_bn").Call(x);
        x = Relu(x, "conv1_relu");
        x = new ZeroPadding2D(SidePairs.FromPairs((1, 1), (1, 1))).Call(x);
        x = new MaxPooling2D(3, strides: 2) { Name = "pool1" }.Call(x);

        for (var b = 0; b < blocks.Length; b++)
        {
            x = DenseBlock(x, blocks[b], $"conv{b + 2}");
            if (b < blocks.Length - 1) x = TransitionBlock(x, 0.5, $"pool{b + 2}");
        }
        x = Bn("bn").Call(x);
        x = Relu(x, "relu");

        if (includeTop)
        {
            x = new GlobalAveragePooling2D { Name = "avg_pool" }.Call(x);
            x = new Dense(classes, activation: activation) { Name = "predictions" }.Call(x);
        }
        else
            x = FeaturePooling(x, pooling, "avg_pool", "max_pool");
        return Finish(input, x, name, weights);
    }
}
