// The C# consumer of the package check (tests/PackageTests.fs): copied into a fresh `dotnet new console` project outside
// the repository that references Functional.Torch from a local feed. It trains a small network on real MNIST digits
// and prints the held-out accuracy, which the check reads.
using Functional.Data;
using Functional.Torch.Data;
using Functional.Layers;
using Functional.Models;
using Functional.Torch;
using Functional.Torch.Building;
using Functional.Training;
using Functional.Torch.Training;
using TorchSharp;

var digits = DigitSet.Load(args[0]);
var (train, test) = digits.Split(2000, seed: 1);
Sequential model = [new Input(28, 28, 1), new Flatten(), new Dense(64, activation: "relu"), new Dense(10, activation: "softmax")];
Console.Write(model.Summary());
torch.manual_seed(1);
using var net = BuiltNetwork.Build(model);
var compiled = net.Compile(new Adam(), new SparseCategoricalCrossentropy(), "accuracy");
using var x = DigitTensors.Images(train);
using var y = DigitTensors.Labels(train);
compiled.Fit(x, y, batchSize: 32, epochs: 3, verbose: 2);
using var xTest = DigitTensors.Images(test);
using var yTest = DigitTensors.Labels(test);
var accuracy = compiled.Evaluate(xTest, yTest, verbose: 0)["accuracy"];
Console.WriteLine($"held-out accuracy: {accuracy:F4} on {test.Count} digits");
