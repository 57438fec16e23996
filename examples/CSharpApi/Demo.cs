using Functional.Models;
using Functional.Torch;
using Functional.Torch.Building;
using TorchSharp;

namespace CSharpApi;

/// <summary>What a service does with the API: print summaries, store and reload configs, build and run models.</summary>
public static class Demo
{
    /// <summary>Runs the demonstration, writing to <paramref name="output"/>; returns the models it declared.</summary>
    public static IReadOnlyList<IModel> Run(TextWriter output)
    {
        ArgumentNullException.ThrowIfNull(output);
        IModel[] models = [Declarations.SeedCnn(), Declarations.ResidualBlock(), Declarations.TwoTowers(), Declarations.Nested()];
        foreach (var model in models)
        {
            output.Write(model.Summary());

            // A config document round-trips to an equal model.
            var json = model.ToJson();
            var reloaded = ModelConfig.FromJson(json);
            output.WriteLine($"config: {json.Length} characters, reloads equal: {reloaded.Equals(model)}");

            // Build and run one forward pass on random inputs (batch of 2, Keras layout).
            using var scope = torch.NewDisposeScope();
            using var net = BuiltNetwork.Build(model);
            var inputs = model.InputShapes.Select(s => torch.randn(s.WithBatch(2))).ToList();
            var outputs = net.Forward(inputs);
            output.WriteLine($"forward: [{string.Join(", ", inputs.Select(Shape))}] -> [{string.Join(", ", outputs.Select(Shape))}]");
            output.WriteLine();
        }
        return models;
    }

    private static string Shape(torch.Tensor t) => $"({string.Join(", ", t.shape)})";
}
