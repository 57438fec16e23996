
using Functional.Shapes;
using Functional.Functions;
using Functional.Layers;
using Functional.Models;
namespace Functional;

public static partial class Applications
{
    /// <summary>
    /// Xception (Keras <c>keras.applications.Xception</c>; Chollet, "Xception: Deep Learning with Depthwise Separable
    /// Convolutions", CVPR 2017): an entry flow of two convolutions and three separable-convolution blocks with strided 1×1
    /// convolution shortcuts (<c>block2</c>–<c>block4</c>), a middle flow of eight residual blocks of three separable
    /// convolutions (<c>block5</c>–<c>block12</c>), and an exit flow (<c>block13</c>, <c>block14</c>). Default input 299×299×3,
    /// minimum 71×71.
    /// </summary>
    /// <remarks>22,910,480 parameters (54,528 non-trainable) with the top and 1000 classes; 20,861,480 without — as Keras's summary.
    /// See <see cref="Applications"/> for the arguments, weights and differences from Keras.</remarks>
    /// <param name="includeTop">Whether to include the fully connected layer at the top.</param>
    /// <param name="weights"><c>null</c> (random initialization), a path to weights saved by this library, or <c>"imagenet"</c> (not available here).</param>
    /// <param name="inputTensor">An existing tensor to use as the image input (Keras's <c>input_tensor</c>).</param>
    /// <param name="inputShape">The image shape (rows, cols, channels); <c>null</c> for 299×299×3.</param>
    /// <param name="pooling">Without the top: <c>null</c> (the 4-D feature map), <c>"avg"</c> or <c>"max"</c> global pooling.</param>
    /// <param name="classes">The number of classes of the top.</param>
    /// <param name="classifierActivation">The top's activation; <c>null</c> returns logits.</param>
    /// <param name="name">The model name.</param>
    public static Model Xception(bool includeTop = true, string? weights = null, SymbolicTensor? inputTensor = null, Shape? inputShape = null,
        string? pooling = null, int classes = 1000, string? classifierActivation = "softmax", string name = "xception")
    {
        const string app = "Xception";
        var shape = Prologue(app, includeTop, weights, inputTensor, inputShape, pooling, classes, defaultSize: 299, minSize: 71);
        var activation = Epilogue(app, includeTop, classifierActivation, weights);
        var input = ImageInput(inputTensor, shape);

        static BatchNormalization Bn(string? name = null) => new(axis: -1) { Name = name };
        static SeparableConv2D Sep(int filters, string name) => new(filters, (3, 3), padding: "same", useBias: false) { Name = name };
        static SymbolicTensor Relu(SymbolicTensor x, string name) => new Activation("relu") { Name = name }.Call(x);
        static SymbolicTensor Residual(SymbolicTensor x, int filters) =>
            Bn().Call(new Conv2D(filters, (1, 1), strides: (2, 2), padding: "same", useBias: false).Call(x));

        var x = new Conv2D(32, (3, 3), strides: (2, 2), useBias: false) { Name = "block1_conv1" }.Call(input);
        x = Bn("block1_conv1_bn").Call(x);
        x = Relu(x, "block1_conv1_act");
        x = new Conv2D(64, (3, 3), useBias: false) { Name = "block1_conv2" }.Call(x);
        x = Bn("block1_conv2_bn").Call(x);
        x = Relu(x, "block1_conv2_act");

        // Entry flow: blocks 2 (no leading activation), 3 and 4.
        int[] entry = [128, 256, 728];
        for (var b = 0; b < entry.Length; b++)
        {
            var prefix = $"block{b + 2}";
            var residual = Residual(x, entry[b]);
            if (b > 0) x = Relu(x, $"{prefix}_sepconv1_act");
            x = Sep(entry[b], $"{prefix}_sepconv1").Call(x);
            x = Bn($"{prefix}_sepconv1_bn").Call(x);
            x = Relu(x, $"{prefix}_sepconv2_act");
            x = Sep(entry[b], $"{prefix}_sepconv2").Call(x);
            x = Bn($"{prefix}_sepconv2_bn").Call(x);
            x = new MaxPooling2D((3, 3), strides: (2, 2), padding: "same") { Name = $"{prefix}_pool" }.Call(x);
            x = new Add().Call(x, residual);
        }

        // Middle flow: blocks 5 to 12.
        for (var i = 0; i < 8; i++)
        {
            var residual = x;
            var prefix = $"block{i + 5}";
            for (var k = 1; k <= 3; k++)
            {
                x = Relu(x, $"{prefix}_sepconv{k}_act");
                x = Sep(728, $"{prefix}_sepconv{k}").Call(x);
                x = Bn($"{prefix}_sepconv{k}_bn").Call(x);
            }
            x = new Add().Call(x, residual);
        }

        // Exit flow.
        {
            var residual = Residual(x, 1024);
            x = Relu(x, "block13_sepconv1_act");
            x = Sep(728, "block13_sepconv1").Call(x);
            x = Bn("block13_sepconv1_bn").Call(x);
            x = Relu(x, "block13_sepconv2_act");
            x = Sep(1024, "block13_sepconv2").Call(x);
            x = Bn("block13_sepconv2_bn").Call(x);
            x = new MaxPooling2D((3, 3), strides: (2, 2), padding: "same") { Name = "block13_pool" }.Call(x);
            x = new Add().Call(x, residual);
        }
        x = Sep(1536, "block14_sepconv1").Call(x);
        x = Bn("block14_sepconv1_bn").Call(x);
        x = Relu(x, "block14_sepconv1_act");
        x = Sep(2048, "block14_sepconv2").Call(x);
        x = Bn("block14_sepconv2_bn").Call(x);
        x = Relu(x, "block14_sepconv2_act");

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
