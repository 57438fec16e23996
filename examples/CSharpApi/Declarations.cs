using Functional;
using Functional.Shapes;
using Functional.Functions;
using Functional.Layers;
using Functional.Models;
using static Functional.Models.Graph;

namespace CSharpApi;

/// <summary>Models declared with the C# API: records, collection expressions, the fluent <c>Add</c>, and the functional API.</summary>
public static class Declarations
{
    /// <summary>Seed 000's CNN as a collection expression — the same model as the F# pipeline and computation expression.</summary>
    public static Sequential SeedCnn() =>
    [
        new Input(28, 28, 1),
        new Conv2D(32, 3, padding: "same", activation: "relu"), new MaxPooling2D(2),
        new Conv2D(64, 3, padding: "same", activation: "relu"), new MaxPooling2D(2),
        new Conv2D(128, 3, padding: "same", activation: "relu"), new MaxPooling2D(2),
        new Flatten(), new Dense(10), new Activation("softmax"),
    ];

    /// <summary>The same CNN built fluently: each <c>Add</c> returns a new, validated model.</summary>
    public static Sequential SeedCnnFluent()
    {
        var block = new Conv2D(32, 3, padding: "same", activation: "relu");
        return new Sequential(new Input(28, 28, 1))
            .Add(block).Add(new MaxPooling2D(2))
            .Add(block with { Filters = 64 }).Add(new MaxPooling2D(2))      // records: `with` makes a new layer
            .Add(block with { Filters = 128 }).Add(new MaxPooling2D(2))
            .Add(new Flatten()).Add(new Dense(10)).Add(new Activation("softmax"));
    }

    /// <summary>A ResNet basic block: two 3×3 convolutions and a shortcut added back before the last ReLU.</summary>
    public static Model ResidualBlock(int size = 16, int channels = 32)
    {
        var x = Input(size, size, channels);
        var y = new Conv2D(channels, 3, padding: "same", activation: "relu").Call(x);
        y = new Conv2D(channels, 3, padding: "same").Call(y);
        var output = new Activation("relu").Call(new Add().Call(y, x));
        return new Model(x, output, name: "residual_block");
    }

    /// <summary>
    /// Two inputs and two outputs with a shared layer: one <see cref="Dense"/> instance encodes both inputs (one set of
    /// weights); a score and a class distribution come out.
    /// </summary>
    public static Model TwoTowers()
    {
        var left = Input(new Shape(12), name: "left");
        var right = Input(new Shape(12), name: "right");
        var encoder = new Dense(8, activation: "relu") { Name = "encoder" };   // one instance, applied twice: shared weights
        var both = new Concatenate().Call(encoder.Call(left), encoder.Call(right));
        var score = new Dense(1, activation: "sigmoid") { Name = "score" }.Call(both);
        var label = new Dense(4, activation: "softmax") { Name = "label" }.Call(both);
        return new Model([left, right], [score, label], name: "two_towers");
    }

    /// <summary>A graph that uses a whole Sequential model as one layer (shown as one row in the summary).</summary>
    public static Model Nested()
    {
        Sequential features = [new Input(8), new Dense(16, activation: "relu"), new Dense(16, activation: "relu")];
        var x = Input(8);
        var y = new Dense(3).Call(features.Call(x));
        return new Model(x, y, name: "with_nested");
    }
}
