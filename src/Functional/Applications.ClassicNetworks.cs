
using Functional.Shapes;
using Functional.Functions;
using Functional.Layers;
using Functional.Models;
namespace Functional;

public static partial class Applications
{
    /// <summary>
    /// LeNet-5 following LeCun, Bottou, Bengio &amp; Haffner, "Gradient-Based Learning Applied to Document Recognition",
    /// Proc. IEEE 86(11), 1998, §II.B and Fig. 2: a 32×32 input, <c>C1</c> (6 5×5 convolutions), <c>S2</c> (2×2 subsampling),
    /// <c>C3</c> (16 5×5 convolutions), <c>S4</c> (2×2 subsampling), <c>C5</c> (120 5×5 convolutions, 1×1 outputs), <c>F6</c>
    /// (84 units) and the output layer, with tanh activations.
    /// </summary>
    /// <remarks>
    /// <para>Three modern simplifications, as the network is usually rebuilt today: the subsampling layers are plain 2×2
    /// average pooling (the paper multiplies each average by a trainable coefficient, adds a trainable bias and applies a
    /// sigmoid); C3 connects every S2 map to every C3 map (the paper's Table I connects each C3 map to a subset of the S2 maps,
    /// 1,516 parameters instead of 2,416, to break symmetry); the output layer is a dense layer with a softmax (the paper uses Euclidean
    /// RBF units), and tanh stands for the paper's scaled tanh 1.7159·tanh(2a/3).</para>
    /// <para>61,706 parameters with 10 classes: C1 156, C3 2,416, C5 48,120, F6 10,164, output 850. Without the top (F6 and the
    /// output layer) the model ends at C5 (120 features), with optional global pooling. Default input 32×32×1, minimum 32×32.</para>
    /// </remarks>
    /// <param name="inputShape">The image shape (rows, cols, channels); <c>null</c> for 32×32×1.</param>
    /// <param name="includeTop">Whether to include F6 and the output layer.</param>
    /// <param name="weights"><c>null</c> (random initialization) or a path to weights saved by this library; there are no pretrained weights.</param>
    /// <param name="inputTensor">An existing tensor to use as the image input.</param>
    /// <param name="pooling">Without the top: <c>null</c>, <c>"avg"</c> or <c>"max"</c> global pooling of C5's output.</param>
    /// <param name="classes">The number of classes (10 digits in the paper).</param>
    /// <param name="classifierActivation">The output layer's activation; <c>null</c> returns logits.</param>
    /// <param name="name">The model name.</param>
    public static Model LeNet5(Shape? inputShape = null, bool includeTop = true, string? weights = null, SymbolicTensor? inputTensor = null,
        string? pooling = null, int classes = 10, string? classifierActivation = "softmax", string name = "lenet5")
    {
        const string app = "LeNet5";
        var shape = ClassicPrologue(app, inputShape, includeTop, weights, inputTensor, pooling, classes, defaultShape: (32, 32, 1), minSize: 32);
        var activation = Epilogue(app, includeTop, classifierActivation, weights);
        var input = ImageInput(inputTensor, shape);
        var x = new Conv2D(6, 5, activation: "tanh") { Name = "C1" }.Call(input);
        x = new AveragePooling2D(2) { Name = "S2" }.Call(x);
        x = new Conv2D(16, 5, activation: "tanh") { Name = "C3" }.Call(x);
        x = new AveragePooling2D(2) { Name = "S4" }.Call(x);
        x = new Conv2D(120, 5, activation: "tanh") { Name = "C5" }.Call(x);
        if (includeTop)
        {
            x = new Flatten { Name = "flatten" }.Call(x);
            x = new Dense(84, activation: "tanh") { Name = "F6" }.Call(x);
            x = new Dense(classes, activation: activation) { Name = "predictions" }.Call(x);
        }
        else
            x = FeaturePooling(x, pooling);
        return Finish(input, x, name, weights);
    }

    /// <summary>
    /// AlexNet following Krizhevsky, Sutskever &amp; Hinton, "ImageNet Classification with Deep Convolutional Neural Networks",
    /// NIPS 2012, §3.5 and Fig. 2, in its <b>single-tower</b> form: the two GPU halves of each layer are merged, so every
    /// convolution sees all channels of the previous layer (96, 256, 384, 384 and 256 filters; the paper's conv2, conv4 and
    /// conv5 see only their own GPU's half). Layers: <c>conv1</c> 11×11/4, <c>pool1</c> 3×3/2 (overlapping pooling), <c>conv2</c>
    /// 5×5, <c>pool2</c>, <c>conv3</c>–<c>conv5</c> 3×3, <c>pool5</c>, <c>fc6</c> and <c>fc7</c> (4096 ReLU units, each followed by
    /// dropout 0.5) and <c>predictions</c>; ReLU everywhere.
    /// </summary>
    /// <remarks>
    /// <para>The paper's local response normalization (after conv1 and conv2) is left out, as in most re-implementations (Keras
    /// has no such layer). The input is 227×227×3 — the size at which the paper's 11×11/4 first layer gives its stated 55×55
    /// maps (the paper's text says 224) — minimum 67×67.</para>
    /// <para>62,378,344 parameters with 1000 classes (conv 3,747,200; fc6 37,752,832; fc7 16,781,312; fc8 4,097,000).</para>
    /// </remarks>
    /// <param name="inputShape">The image shape (rows, cols, channels); <c>null</c> for 227×227×3.</param>
    /// <param name="includeTop">Whether to include fc6, fc7 and the classifier.</param>
    /// <param name="weights"><c>null</c> (random initialization) or a path to weights saved by this library; there are no pretrained weights.</param>
    /// <param name="inputTensor">An existing tensor to use as the image input.</param>
    /// <param name="pooling">Without the top: <c>null</c>, <c>"avg"</c> or <c>"max"</c> global pooling of pool5's output.</param>
    /// <param name="classes">The number of classes.</param>
    /// <param name="classifierActivation">The classifier's activation; <c>null</c> returns logits.</param>
    /// <param name="name">The model name.</param>
    public static Model AlexNet(Shape? inputShape = null, bool includeTop = true, string? weights = null, SymbolicTensor? inputTensor = null,
        string? pooling = null, int classes = 1000, string? classifierActivation = "softmax", string name = "alexnet")
    {
        const string app = "AlexNet";
        var shape = ClassicPrologue(app, inputShape, includeTop, weights, inputTensor, pooling, classes, defaultShape: (227, 227, 3), minSize: 67);
        var activation = Epilogue(app, includeTop, classifierActivation, weights);
        var input = ImageInput(inputTensor, shape);
        var x = new Conv2D(96, 11, strides: 4, activation: "relu") { Name = "conv1" }.Call(input);
        x = new MaxPooling2D(3, strides: 2) { Name = "pool1" }.Call(x);
        x = new Conv2D(256, 5, padding: "same", activation: "relu") { Name = "conv2" }.Call(x);
        x = new MaxPooling2D(3, strides: 2) { Name = "pool2" }.Call(x);
        x = new Conv2D(384, 3, padding: "same", activation: "relu") { Name = "conv3" }.Call(x);
        x = new Conv2D(384, 3, padding: "same", activation: "relu") { Name = "conv4" }.Call(x);
        x = new Conv2D(256, 3, padding: "same", activation: "relu") { Name = "conv5" }.Call(x);
        x = new MaxPooling2D(3, strides: 2) { Name = "pool5" }.Call(x);
        if (includeTop)
        {
            x = new Flatten { Name = "flatten" }.Call(x);
            x = new Dense(4096, activation: "relu") { Name = "fc6" }.Call(x);
            x = new Dropout(0.5) { Name = "drop6" }.Call(x);
            x = new Dense(4096, activation: "relu") { Name = "fc7" }.Call(x);
            x = new Dropout(0.5) { Name = "drop7" }.Call(x);
            x = new Dense(classes, activation: activation) { Name = "predictions" }.Call(x);
        }
        else
            x = FeaturePooling(x, pooling);
        return Finish(input, x, name, weights);
    }

    /// <summary>
    /// Network in Network following Lin, Chen &amp; Yan, "Network In Network", ICLR 2014 (arXiv:1312.4400), §3 and Fig. 2:
    /// stacked <em>mlpconv</em> blocks — a convolution followed by two 1×1 convolutions (the paper's cascaded cross-channel
    /// parametric pooling, <c>cccp</c>), all ReLU — with max pooling between them, dropout, and global average pooling of
    /// one feature map per class instead of fully connected layers (§3.2).
    /// </summary>
    /// <remarks>
    /// <para>The configuration is the ImageNet network of the authors' released model (and of Dive into Deep Learning, §8.3):
    /// <c>mlpconv1</c> 96 11×11/4, <c>mlpconv2</c> 256 5×5, <c>mlpconv3</c> 384 3×3, each followed by 3×3/2 max pooling, dropout
    /// 0.5, and <c>mlpconv4</c> with <paramref name="classes"/> 3×3 maps, global average pooling (<c>avg_pool</c>) and the
    /// classifier activation (<c>predictions</c>). Default input 224×224×3, minimum 67×67.</para>
    /// <para>Without the top (mlpconv4 and the global pooling) the model ends after the dropout (384 channels), with optional
    /// global pooling.</para>
    /// </remarks>
    /// <param name="inputShape">The image shape (rows, cols, channels); <c>null</c> for 224×224×3.</param>
    /// <param name="includeTop">Whether to include the last mlpconv block with one map per class and its global pooling.</param>
    /// <param name="weights"><c>null</c> (random initialization) or a path to weights saved by this library; there are no pretrained weights.</param>
    /// <param name="inputTensor">An existing tensor to use as the image input.</param>
    /// <param name="pooling">Without the top: <c>null</c>, <c>"avg"</c> or <c>"max"</c> global pooling.</param>
    /// <param name="classes">The number of classes (maps of the last mlpconv block).</param>
    /// <param name="classifierActivation">The activation after global pooling; <c>null</c> returns logits.</param>
    /// <param name="name">The model name.</param>
    public static Model NiN(Shape? inputShape = null, bool includeTop = true, string? weights = null, SymbolicTensor? inputTensor = null,
        string? pooling = null, int classes = 1000, string? classifierActivation = "softmax", string name = "nin")
    {
        const string app = "NiN";
        var shape = ClassicPrologue(app, inputShape, includeTop, weights, inputTensor, pooling, classes, defaultShape: (224, 224, 3), minSize: 67);
        var activation = Epilogue(app, includeTop, classifierActivation, weights);
        var input = ImageInput(inputTensor, shape);

        static SymbolicTensor MlpConv(SymbolicTensor x, int filters, int kernel, int strides, string padding, string name)
        {
            x = new Conv2D(filters, kernel, strides: strides, padding: padding, activation: "relu") { Name = name + "_conv" }.Call(x);
            x = new Conv2D(filters, 1, activation: "relu") { Name = name + "_cccp1" }.Call(x);
            return new Conv2D(filters, 1, activation: "relu") { Name = name + "_cccp2" }.Call(x);
        }

        var x = MlpConv(input, 96, 11, 4, "valid", "mlpconv1");
        x = new MaxPooling2D(3, strides: 2) { Name = "pool1" }.Call(x);
        x = MlpConv(x, 256, 5, 1, "same", "mlpconv2");
        x = new MaxPooling2D(3, strides: 2) { Name = "pool2" }.Call(x);
        x = MlpConv(x, 384, 3, 1, "same", "mlpconv3");
        x = new MaxPooling2D(3, strides: 2) { Name = "pool3" }.Call(x);
        x = new Dropout(0.5) { Name = "dropout" }.Call(x);
        if (includeTop)
        {
            x = MlpConv(x, classes, 3, 1, "same", "mlpconv4");
            x = new GlobalAveragePooling2D { Name = "avg_pool" }.Call(x);
            x = new Activation(activation) { Name = "predictions" }.Call(x);
        }
        else
            x = FeaturePooling(x, pooling);
        return Finish(input, x, name, weights);
    }

    /// <summary>
    /// GoogLeNet (Inception v1) following Szegedy et al., "Going Deeper with Convolutions", CVPR 2015 (arXiv:1409.4842),
    /// Table 1 and Fig. 3: <c>conv1_7x7_s2</c>, max pooling, <c>conv2_3x3_reduce</c> and <c>conv2_3x3</c>, max pooling, Inception
    /// modules 3a–3b, max pooling, 4a–4e, max pooling, 5a–5b (each: 1×1, 1×1→3×3, 1×1→5×5 and 3×3 max pooling→1×1 projection
    /// branches, concatenated), average pooling, dropout 40% and the linear classifier with softmax. ReLU after every
    /// convolution; "same" padding throughout, so 224×224 inputs give Table 1's 112, 56, 28, 14 and 7 grids.
    /// </summary>
    /// <remarks>
    /// <para><b>Without the auxiliary classifiers</b> (the paper uses them only as training-time losses and discards them at
    /// inference) and without local response normalization. The final 7×7 average pooling is global average pooling
    /// (<c>pool5_7x7_s1</c>), identical at 224×224 and valid for other sizes. Layer names follow the authors' released model
    /// (<c>inception_3a_1x1</c>, <c>inception_3a_3x3_reduce</c>, …, <c>inception_3a_output</c>).</para>
    /// <para>The parameter count is Table 1's (≈6.8M weights) plus biases and the classifier: 6,998,552 with 1000 classes.
    /// Default input 224×224×3, minimum 32×32.</para>
    /// </remarks>
    /// <param name="inputShape">The image shape (rows, cols, channels); <c>null</c> for 224×224×3.</param>
    /// <param name="includeTop">Whether to include the pooling, dropout and classifier at the top.</param>
    /// <param name="weights"><c>null</c> (random initialization) or a path to weights saved by this library; there are no pretrained weights.</param>
    /// <param name="inputTensor">An existing tensor to use as the image input.</param>
    /// <param name="pooling">Without the top: <c>null</c>, <c>"avg"</c> or <c>"max"</c> global pooling of inception 5b's output.</param>
    /// <param name="classes">The number of classes.</param>
    /// <param name="classifierActivation">The classifier's activation; <c>null</c> returns logits.</param>
    /// <param name="name">The model name.</param>
    public static Model GoogLeNet(Shape? inputShape = null, bool includeTop = true, string? weights = null, SymbolicTensor? inputTensor = null,
        string? pooling = null, int classes = 1000, string? classifierActivation = "softmax", string name = "googlenet")
    {
        const string app = "GoogLeNet";
        var shape = ClassicPrologue(app, inputShape, includeTop, weights, inputTensor, pooling, classes, defaultShape: (224, 224, 3), minSize: 32);
        var activation = Epilogue(app, includeTop, classifierActivation, weights);
        var input = ImageInput(inputTensor, shape);

        static SymbolicTensor Conv(SymbolicTensor x, int filters, int kernel, string name, int strides = 1) =>
            new Conv2D(filters, kernel, strides: strides, padding: "same", activation: "relu") { Name = name }.Call(x);
        static SymbolicTensor Pool(SymbolicTensor x, string name) => new MaxPooling2D(3, strides: 2, padding: "same") { Name = name }.Call(x);
        static SymbolicTensor Inception(SymbolicTensor x, string id, int c1, int c3Reduce, int c3, int c5Reduce, int c5, int poolProj)
        {
            var name = $"inception_{id}";
            var b1 = Conv(x, c1, 1, name + "_1x1");
            var b2 = Conv(Conv(x, c3Reduce, 1, name + "_3x3_reduce"), c3, 3, name + "_3x3");
            var b3 = Conv(Conv(x, c5Reduce, 1, name + "_5x5_reduce"), c5, 5, name + "_5x5");
            var b4 = new MaxPooling2D(3, strides: 1, padding: "same") { Name = name + "_pool" }.Call(x);
            b4 = Conv(b4, poolProj, 1, name + "_pool_proj");
            return new Concatenate(axis: 3) { Name = name + "_output" }.Call(b1, b2, b3, b4);
        }

        var x = Conv(input, 64, 7, "conv1_7x7_s2", strides: 2);
        x = Pool(x, "pool1_3x3_s2");
        x = Conv(x, 64, 1, "conv2_3x3_reduce");
        x = Conv(x, 192, 3, "conv2_3x3");
        x = Pool(x, "pool2_3x3_s2");
        x = Inception(x, "3a", 64, 96, 128, 16, 32, 32);
        x = Inception(x, "3b", 128, 128, 192, 32, 96, 64);
        x = Pool(x, "pool3_3x3_s2");
        x = Inception(x, "4a", 192, 96, 208, 16, 48, 64);
        x = Inception(x, "4b", 160, 112, 224, 24, 64, 64);
        x = Inception(x, "4c", 128, 128, 256, 24, 64, 64);
        x = Inception(x, "4d", 112, 144, 288, 32, 64, 64);
        x = Inception(x, "4e", 256, 160, 320, 32, 128, 128);
        x = Pool(x, "pool4_3x3_s2");
        x = Inception(x, "5a", 256, 160, 320, 32, 128, 128);
        x = Inception(x, "5b", 384, 192, 384, 48, 128, 128);
        if (includeTop)
        {
            x = new GlobalAveragePooling2D { Name = "pool5_7x7_s1" }.Call(x);
            x = new Dropout(0.4) { Name = "pool5_drop_7x7_s1" }.Call(x);
            x = new Dense(classes, activation: activation) { Name = "predictions" }.Call(x);
        }
        else
            x = FeaturePooling(x, pooling);
        return Finish(input, x, name, weights);
    }

    /// <summary>
    /// SE-ResNet-50 following Hu, Shen &amp; Sun, "Squeeze-and-Excitation Networks", CVPR 2018 (arXiv:1709.01507), Fig. 3 and
    /// Table 1: Keras's <see cref="ResNet50"/>, layer for layer and with its names, with a squeeze-and-excitation block of
    /// reduction ratio 16 on each bottleneck's residual branch before the identity sum: global average pooling
    /// (<c>…_se_squeeze</c>), a dense layer of C/16 ReLU units (<c>…_se_reduce</c>), a dense layer of C sigmoid gates
    /// (<c>…_se_expand</c>), a reshape to 1×1×C and the channel-wise product (<c>…_se_excite</c>).
    /// </summary>
    /// <remarks>
    /// 28,167,704 parameters with 1000 classes: ResNet50's 25,636,712 plus 2,530,992 in the SE blocks — the paper's
    /// 2/r·Σ N·C² ≈ 2.5M extra weights (§4), plus their biases. Default input 224×224×3, minimum 32×32.
    /// </remarks>
    /// <inheritdoc cref="ResNet50" path="/param"/>
    public static Model SEResNet50(bool includeTop = true, string? weights = null, SymbolicTensor? inputTensor = null, Shape? inputShape = null,
        string? pooling = null, int classes = 1000, string? classifierActivation = "softmax", string name = "se_resnet50")
    {
        if (weights == "imagenet") CheckNoPretrained("SEResNet50", weights);
        return ResNet("SEResNet50", [3, 4, 6, 3], preact: false, se: true, includeTop, weights, inputTensor, inputShape, pooling, classes, classifierActivation, name);
    }

    /// <summary>The checks of the historical networks: as Keras's applications', with no pretrained weights at all.</summary>
    private static Shape ClassicPrologue(string app, Shape? inputShape, bool includeTop, string? weights, SymbolicTensor? inputTensor,
        string? pooling, int classes, Shape defaultShape, int minSize)
    {
        CheckNoPretrained(app, weights);
        CheckWeights(app, weights);
        CheckPooling(app, pooling);
        if (inputTensor is not null && inputShape is not null && inputTensor.Shape != inputShape)
            throw new ArgumentException(
                $"{app}: `input_shape` {inputShape.ToSampleString()} differs from the shape {inputTensor.Shape.ToSampleString()} of `input_tensor`. Give one or the other.",
                nameof(inputShape));
        var requested = inputShape ?? inputTensor?.Shape;
        if (requested is null) return defaultShape;
        if (requested.Rank != 3)
            throw new ArgumentException($"{app}: `input_shape` must be a tuple of three integers. Received: input_shape={requested.ToSampleString()}.", nameof(inputShape));
        if (requested[0] < minSize || requested[1] < minSize)
            throw new ArgumentException(
                $"{app}: Input size must be at least {minSize}x{minSize}; Received: input_shape={requested.ToSampleString()}.", nameof(inputShape));
        return requested;
    }

    private static void CheckNoPretrained(string app, string? weights)
    {
        if (weights == "imagenet")
            throw new NotSupportedException(
                $"{app}: there are no pretrained 'imagenet' weights for this network, and this library cannot download any (there is no model hub). " +
                "Pass weights: null for random initialization, or the path of a weights file saved by this library.");
    }
}
