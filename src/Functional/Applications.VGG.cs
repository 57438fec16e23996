
using Functional.Shapes;
using Functional.Functions;
using Functional.Layers;
using Functional.Models;
namespace Functional;

public static partial class Applications
{
    /// <summary>
    /// VGG16 (Keras <c>keras.applications.VGG16</c>; Simonyan &amp; Zisserman, "Very Deep Convolutional Networks for
    /// Large-Scale Image Recognition", ICLR 2015): five blocks of 3×3 "same" ReLU convolutions (64, 128, 256, 512, 512 filters;
    /// 2, 2, 3, 3, 3 layers) each followed by 2×2 max pooling, then <c>flatten</c>, <c>fc1</c> and <c>fc2</c> (4096 ReLU units)
    /// and <c>predictions</c>. Default input 224×224×3, minimum 32×32.
    /// </summary>
    /// <remarks>138,357,544 parameters with the top and 1000 classes (14,714,688 without), all trainable — as Keras's summary.
    /// See <see cref="Applications"/> for the arguments, weights and differences from Keras.</remarks>
    /// <param name="includeTop">Whether to include the three fully connected layers at the top.</param>
    /// <param name="weights"><c>null</c> (random initialization), a path to weights saved by this library, or <c>"imagenet"</c> (not available here).</param>
    /// <param name="inputTensor">An existing tensor to use as the image input (Keras's <c>input_tensor</c>).</param>
    /// <param name="inputShape">The image shape (rows, cols, channels); <c>null</c> for 224×224×3.</param>
    /// <param name="pooling">Without the top: <c>null</c> (the 4-D feature map), <c>"avg"</c> or <c>"max"</c> global pooling.</param>
    /// <param name="classes">The number of classes of the top.</param>
    /// <param name="classifierActivation">The top's activation; <c>null</c> returns logits.</param>
    /// <param name="name">The model name.</param>
    public static Model VGG16(bool includeTop = true, string? weights = null, SymbolicTensor? inputTensor = null, Shape? inputShape = null,
        string? pooling = null, int classes = 1000, string? classifierActivation = "softmax", string name = "vgg16") =>
        Vgg("VGG16", [2, 2, 3, 3, 3], includeTop, weights, inputTensor, inputShape, pooling, classes, classifierActivation, name);

    /// <summary>
    /// VGG19 (Keras <c>keras.applications.VGG19</c>; Simonyan &amp; Zisserman, ICLR 2015): as <see cref="VGG16"/> with 2, 2, 4, 4, 4
    /// convolutions per block. Default input 224×224×3, minimum 32×32.
    /// </summary>
    /// <remarks>143,667,240 parameters with the top and 1000 classes (20,024,384 without), all trainable.</remarks>
    /// <param name="includeTop">Whether to include the three fully connected layers at the top.</param>
    /// <param name="weights"><c>null</c> (random initialization), a path to weights saved by this library, or <c>"imagenet"</c> (not available here).</param>
    /// <param name="inputTensor">An existing tensor to use as the image input (Keras's <c>input_tensor</c>).</param>
    /// <param name="inputShape">The image shape (rows, cols, channels); <c>null</c> for 224×224×3.</param>
    /// <param name="pooling">Without the top: <c>null</c> (the 4-D feature map), <c>"avg"</c> or <c>"max"</c> global pooling.</param>
    /// <param name="classes">The number of classes of the top.</param>
    /// <param name="classifierActivation">The top's activation; <c>null</c> returns logits.</param>
    /// <param name="name">The model name.</param>
    public static Model VGG19(bool includeTop = true, string? weights = null, SymbolicTensor? inputTensor = null, Shape? inputShape = null,
        string? pooling = null, int classes = 1000, string? classifierActivation = "softmax", string name = "vgg19") =>
        Vgg("VGG19", [2, 2, 4, 4, 4], includeTop, weights, inputTensor, inputShape, pooling, classes, classifierActivation, name);

    private static Model Vgg(string app, int[] convs, bool includeTop, string? weights, SymbolicTensor? inputTensor, Shape? inputShape,
        string? pooling, int classes, string? classifierActivation, string name)
    {
        var shape = Prologue(app, includeTop, weights, inputTensor, inputShape, pooling, classes, defaultSize: 224, minSize: 32);
        var activation = Epilogue(app, includeTop, classifierActivation, weights);
        var input = ImageInput(inputTensor, shape);
        int[] filters = [64, 128, 256, 512, 512];
        var x = input;
        for (var b = 0; b < convs.Length; b++)
        {
            for (var c = 1; c <= convs[b]; c++)
                x = new Conv2D(filters[b], (3, 3), activation: "relu", padding: "same") { Name = $"block{b + 1}_conv{c}" }.Call(x);
            x = new MaxPooling2D((2, 2), strides: (2, 2)) { Name = $"block{b + 1}_pool" }.Call(x);
        }
        if (includeTop)
        {
            x = new Flatten { Name = "flatten" }.Call(x);
            x = new Dense(4096, activation: "relu") { Name = "fc1" }.Call(x);
            x = new Dense(4096, activation: "relu") { Name = "fc2" }.Call(x);
            x = new Dense(classes, activation: activation) { Name = "predictions" }.Call(x);
        }
        else
            x = FeaturePooling(x, pooling);
        return Finish(input, x, name, weights);
    }
}
