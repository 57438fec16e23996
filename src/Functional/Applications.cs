using Functional.Shapes;
using Functional.Functions;
using Functional.Layers;
using Functional.Models;
using System.Globalization;

namespace Functional;

/// <summary>
/// Ready-made networks, declared as graph <see cref="Model"/>s with the functional API and no libtorch: Keras's
/// applications layer for layer (<c>keras.applications.ResNet50(...)</c> is <c>Applications.ResNet50(...)</c>), with
/// Keras's arguments, layer names, shapes and parameter counts, and the historical networks of the classic CNN
/// literature (LeNet-5, AlexNet, NiN, GoogLeNet, SE-ResNet-50) following their papers.
/// </summary>
/// <remarks>
/// <para><b>Arguments</b> are Keras's, in .NET camelCase: <c>includeTop</c>, <c>weights</c>, <c>inputTensor</c>,
/// <c>inputShape</c>, <c>pooling</c> (<c>null</c>, <c>"avg"</c> or <c>"max"</c>), <c>classes</c>,
/// <c>classifierActivation</c> (<c>null</c> for logits) and, where Keras has them, <c>alpha</c>, <c>depthMultiplier</c>,
/// <c>dropout</c> and <c>name</c>. Invalid arguments raise Keras's errors (as <see cref="ArgumentException"/>s whose
/// message starts with the application's name), checked in Keras's order before anything is declared.</para>
/// <para><b>Weights.</b> <c>weights: null</c> (the default here) initialises every weight with Keras's initializers when the
/// model is built. <c>weights: "path"</c> names a weights file: one saved by this library (safetensors, entries named with
/// Keras's weight names, <c>conv1_conv/kernel</c>, …) or one of Keras's own — the ImageNet files Keras publishes for the
/// application (legacy HDF5, e.g. <c>resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5</c>, matched as Keras's
/// <c>load_weights</c> matches them: the layers with weights in order) or a Keras 3 <c>.weights.h5</c>/<c>.keras</c> file,
/// recognised by content. The path must exist, and the declaration carries it
/// (<see cref="Model.WeightsFile"/>), so that building it (<c>BuiltNetwork.Build</c>) loads the file — every name and shape is checked, and a file saved
/// from another network is rejected naming the weights that differ. A model declared from the application's layers
/// (<c>new Model(app.Input, app.GetLayer("block5_pool").Output)</c>, Keras's feature extractor) loads the same file by
/// layer name. <c>weights: "imagenet"</c> — Keras's default — would download Keras's pretrained ImageNet
/// weights from the internet, which this library cannot do: there is no model hub here; download the file and pass its
/// path. Every Keras check on the
/// arguments is still applied for <c>"imagenet"</c> (classes, input shape, alpha, classifier activation), and then a
/// <see cref="NotSupportedException"/> says so.</para>
/// <para><b>Differences from Keras</b>, all forced by this library's shapes or stricter on purpose: only the
/// <c>channels_last</c> image format; shapes have no unknown dimensions, so without <c>inputShape</c> a model without its
/// top gets Keras's default size (e.g. 224×224×3) where Keras would declare <c>(None, None, 3)</c> — the parameter counts
/// are the same; an unknown <c>pooling</c> value is rejected instead of silently ignored; Keras's warning about input
/// channels other than 1 or 3 is not issued.</para>
/// </remarks>
public static partial class Applications
{
    /// <summary>The arguments every Keras application checks, in Keras's order; returns the validated input shape.</summary>
    private static Shape Prologue(string app, bool includeTop, string? weights, SymbolicTensor? inputTensor, Shape? inputShape,
        string? pooling, int classes, int defaultSize, int minSize, bool requireFlatten = true)
    {
        CheckWeights(app, weights);
        if (weights == "imagenet" && includeTop && classes != 1000)
            throw new ArgumentException(
                $"{app}: If using `weights='imagenet'` with `include_top=True`, `classes` should be 1000. Received classes={classes}.", nameof(classes));
        CheckPooling(app, pooling);
        if (inputTensor is not null && inputShape is not null && inputTensor.Shape != inputShape)
            throw new ArgumentException(
                $"{app}: `input_shape` {inputShape.ToSampleString()} differs from the shape {inputTensor.Shape.ToSampleString()} of `input_tensor`. Give one or the other.",
                nameof(inputShape));
        return ObtainInputShape(app, inputShape ?? inputTensor?.Shape, defaultSize, minSize, includeTop && requireFlatten, weights);
    }

    /// <summary>Keras: <c>weights in {"imagenet", None} or file_utils.exists(weights)</c>.</summary>
    private static void CheckWeights(string app, string? weights)
    {
        if (weights is null || weights == "imagenet") return;
        if (weights.Length == 0 || !File.Exists(weights))
            throw new ArgumentException(
                $"{app}: The `weights` argument should be either `None` (random initialization), 'imagenet' (pre-training on ImageNet), " +
                $"or the path to the weights file to be loaded. Received: weights={Layer.FormatValue(weights)} (no such file).", nameof(weights));
    }

    /// <summary>Only <c>null</c>, <c>"avg"</c> and <c>"max"</c> mean something; Keras ignores anything else, this rejects it.</summary>
    private static void CheckPooling(string app, string? pooling)
    {
        if (pooling is not (null or "avg" or "max"))
            throw new ArgumentException(
                $"{app}: expected argument 'pooling' to be None, 'avg' or 'max'. Received: pooling={Layer.FormatValue(pooling)}.", nameof(pooling));
    }

    /// <summary>
    /// Keras's <c>imagenet_utils.obtain_input_shape</c> for <c>channels_last</c>: without a shape, the default size with the
    /// top (which needs a static shape) and <c>(None, None, 3)</c> without it.
    /// </summary>
    internal static Shape ObtainInputShape(string app, Shape? inputShape, int defaultSize, int minSize, bool requireFlatten, string? weights)
    {
        var imagenet = weights == "imagenet";
        var defaultShape = !imagenet && inputShape is { Rank: 3 }
            ? new Shape(defaultSize, defaultSize, inputShape[2])
            : new Shape(defaultSize, defaultSize, 3);
        if (imagenet && requireFlatten)
        {
            if (inputShape is not null && inputShape != defaultShape)
                throw new ArgumentException(
                    $"{app}: When setting `include_top=True` and loading `imagenet` weights, `input_shape` should be {defaultShape.ToSampleString()}. " +
                    $"Received: input_shape={inputShape.ToSampleString()}.", "inputShape");
            return defaultShape;
        }
        if (inputShape is null) return requireFlatten ? defaultShape : new Shape(null, null, 3);
        if (inputShape.Rank != 3)
            throw new ArgumentException(
                $"{app}: `input_shape` must be a tuple of three integers. Received: input_shape={inputShape.ToSampleString()}.", "inputShape");
        if (inputShape[2] != 3 && imagenet)
            throw new ArgumentException(
                $"{app}: The input must have 3 channels; Received `input_shape={inputShape.ToSampleString()}`.", "inputShape");
        if (inputShape[0] is { } rows && rows < minSize || inputShape[1] is { } cols && cols < minSize)
            throw new ArgumentException(
                $"{app}: Input size must be at least {minSize}x{minSize}; Received: input_shape={inputShape.ToSampleString()}.", "inputShape");
        if (requireFlatten && !inputShape.IsFullyKnown)
            throw new ArgumentException(
                $"{app}: If `include_top` is True, you should specify a static `input_shape`. Received: input_shape={inputShape.ToSampleString()}.", "inputShape");
        return inputShape;
    }

    /// <summary>
    /// The checks Keras makes while declaring the top (<c>imagenet_utils.validate_activation</c>: with pretrained weights the
    /// classifier activation must be softmax or none), then the refusal of <c>"imagenet"</c>: everything Keras checks has passed.
    /// </summary>
    private static ActivationFunction Epilogue(string app, bool includeTop, string? classifierActivation, string? weights)
    {
        var activation = new ActivationFunction(classifierActivation);
        if (includeTop && weights is not null && activation.Name is not ("softmax" or "linear"))
            throw new ArgumentException(
                $"{app}: Only `None` and `softmax` activations are allowed for the `classifier_activation` argument when using pretrained weights, " +
                $"with `include_top=True`; Received: classifier_activation={activation.Name}.", nameof(classifierActivation));
        if (weights == "imagenet")
            throw new NotSupportedException(
                $"{app}: weights='imagenet' means downloading Keras's pretrained ImageNet weights from the internet, which this library " +
                "cannot do (there is no model hub to fetch them from). Pass weights: null for random initialization with Keras's initializers, " +
                "or the path of a weights file: Keras's published ImageNet file for this application once downloaded (legacy .h5), or one saved by this library.");
        return activation;
    }

    /// <summary>The image input: a new <c>input_layer</c>, or the tensor the caller passed as <c>inputTensor</c>.</summary>
    private static SymbolicTensor ImageInput(SymbolicTensor? inputTensor, Shape shape) =>
        inputTensor ?? Graph.TensorOf(new Input(shape));

    /// <summary>The model, with its inputs traced back from <paramref name="input"/> (Keras's <c>get_source_inputs</c>), carrying the weights file to load.</summary>
    private static Model Finish(SymbolicTensor input, SymbolicTensor output, string name, string? weights) =>
        new Model(SourceInputs(input), [output], name).WithWeightsFile(weights);

    /// <summary>The model inputs a tensor depends on, in the order they are reached depth first.</summary>
    private static List<SymbolicTensor> SourceInputs(SymbolicTensor tensor)
    {
        var found = new List<SymbolicTensor>();
        var seen = new HashSet<Node>(ReferenceEqualityComparer.Instance);
        var stack = new Stack<SymbolicTensor>();
        stack.Push(tensor);
        while (stack.Count > 0)
        {
            var t = stack.Pop();
            if (!seen.Add(t.Node)) continue;
            if (t.Node.IsInput) { found.Add(t); continue; }
            for (var i = t.Node.Inputs.Length - 1; i >= 0; i--) stack.Push(t.Node.Inputs[i]);
        }
        return found;
    }

    /// <summary>Global pooling for feature extraction without the top (<c>pooling</c> "avg" or "max"), or the tensor unchanged.</summary>
    private static SymbolicTensor FeaturePooling(SymbolicTensor x, string? pooling, string? avgName = null, string? maxName = null) => pooling switch
    {
        "avg" => new GlobalAveragePooling2D { Name = avgName }.Call(x),
        "max" => new GlobalMaxPooling2D { Name = maxName }.Call(x),
        _ => x,
    };

    /// <summary>Python's <c>f"{alpha:0.2f}"</c>.</summary>
    private static string TwoDecimals(double value) => value.ToString("0.00", CultureInfo.InvariantCulture);

    /// <summary>Keras's <c>imagenet_utils.correct_pad</c>: the zero padding before a strided "valid" convolution that mimics TF's "same".</summary>
    private static SidePairs CorrectPad(Shape input, int kernelSize)
    {
        // Keras: an unknown height counts as odd on both axes.
        var adjust = input[0] is null ? (Rows: 1, Cols: 1) : (Rows: 1 - input.Known(0) % 2, Cols: 1 - (input[1] ?? 1) % 2);
        var correct = kernelSize / 2;
        return SidePairs.FromPairs((correct - adjust.Rows, correct), (correct - adjust.Cols, correct));
    }

    /// <summary>Keras's <c>_make_divisible</c> (MobileNetV2) and EfficientNet's <c>round_filters</c> rule.</summary>
    private static int MakeDivisible(double value, int divisor, int? minValue = null)
    {
        var min = minValue ?? divisor;
        var rounded = Math.Max(min, (int)(value + divisor / 2.0) / divisor * divisor);
        if (rounded < 0.9 * value) rounded += divisor;
        return rounded;
    }
}
