// Functional benchmarks. Modes:
//   step    train-step and inference time: ours (a) vs hand-written TorchSharp (b), alternating blocks in one process
//   soak    N train steps of a small model, sampling live native tensors and RSS (no growth expected)
//   summary shape inference + summary of a large declared model, with libtorch never loaded
// Usage: dotnet run --project bench/Functional.Bench -- step [--quick] [--json out.json]
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Functional;
using Functional.Data;
using Functional.Layers;
using Functional.Models;
using Functional.Torch;
using Functional.Training;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

var mode = args.FirstOrDefault(a => !a.StartsWith("--")) ?? "step";
Bench.DeviceName = args.SkipWhile(a => a != "--device").Skip(1).FirstOrDefault() ?? "cpu";
var quick = args.Contains("--quick");
string? jsonPath = args.SkipWhile(a => a != "--json").Skip(1).FirstOrDefault();
CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;

switch (mode)
{
    case "summary": Bench.Summary(quick); break;
    case "soak": Bench.Soak(quick ? 2000 : 10000); break;
    case "step": Bench.Steps(quick, jsonPath); break;
    default: Console.Error.WriteLine($"unknown mode '{mode}' (step | soak | summary)"); return 2;
}
return 0;

static class Bench
{
    public static string DeviceName = "cpu";
    static Functional.Torch.Device Dev => Functional.Torch.Device.Parse(DeviceName);
    static torch.Device TorchDev => DeviceName.StartsWith("cuda") ? new torch.Device(DeviceName) : torch.CPU;

    // ---- models -------------------------------------------------------------------------------------------
    public static Sequential Cnn(bool channelsLast) => channelsLast
        ? new Sequential(new Input(28, 28, 1),
            new Conv2D(32, 3, padding: "same", activation: "relu"), new MaxPooling2D(2),
            new Conv2D(64, 3, padding: "same", activation: "relu"), new MaxPooling2D(2),
            new Conv2D(128, 3, padding: "same", activation: "relu"), new MaxPooling2D(2),
            new Flatten(), new Dense(10), new Activation("softmax"))
        : new Sequential(new Input(1, 28, 28),
            new Conv2D(32, 3, padding: "same", activation: "relu", dataFormat: "channels_first"), new MaxPooling2D(2, dataFormat: "channels_first"),
            new Conv2D(64, 3, padding: "same", activation: "relu", dataFormat: "channels_first"), new MaxPooling2D(2, dataFormat: "channels_first"),
            new Conv2D(128, 3, padding: "same", activation: "relu", dataFormat: "channels_first"), new MaxPooling2D(2, dataFormat: "channels_first"),
            new Flatten(dataFormat: "channels_first"), new Dense(10), new Activation("softmax"));

    public static Sequential Mlp() => new(new Input(784),
        new Dense(512, activation: "relu"), new Dense(256, activation: "relu"), new Dense(10, activation: "softmax"));

    // The same networks written by hand in TorchSharp (NCHW), the zero-overhead bound.
    public static nn.Module<Tensor, Tensor> HandCnn() => nn.Sequential(
        nn.Conv2d(1, 32, 3, padding: 1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding: 1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(64, 128, 3, padding: 1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(1152, 10), nn.Softmax(1));

    public static nn.Module<Tensor, Tensor> HandMlp() => nn.Sequential(
        nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 256), nn.ReLU(), nn.Linear(256, 10), nn.Softmax(1));

    static Tensor Loss(Tensor p, Tensor t) => F.nll_loss(p.clamp(1e-7, 1 - 1e-7).log(), t);

    // ---- data ---------------------------------------------------------------------------------------------
    static (Tensor X, Tensor Y) Batch(DigitSet digits, int batch, string layout, int offset)
    {
        using var scope = NewDisposeScope();
        var all = DigitTensors.Images(digits);            // (N, 28, 28, 1)
        var labels = DigitTensors.Labels(digits);
        var x = all.narrow(0, offset, batch);
        var y = labels.narrow(0, offset, batch);
        x = layout switch { "nhwc" => x, "nchw" => x.permute(0, 3, 1, 2), _ => x.reshape(batch, 784) };
        // A real row-major copy: a permuted one-channel batch would otherwise keep strides that libtorch reads as
        // channels_last, sending the hand-written network down another (and, for some shapes, wrong) kernel path.
        return (Layouts.Standard(x.contiguous()).to(TorchDev).MoveToOuterDisposeScope(), y.to(TorchDev).MoveToOuterDisposeScope());
    }

    // ---- step benchmark -----------------------------------------------------------------------------------
    record Result(string Case, string Variant, double MedianMs, double MinMs, double MaxMs);
    record Ratio(string Case, string Versus, double Median, double Min, double Max);

    public static void Steps(bool quick, string? jsonPath)
    {
        LibTorchInit();
        var digits = DigitSet.Load(DigitSet.FindRepositoryData("mnist"));
        var rounds = quick ? 5 : 15;
        var results = new List<Result>();
        var ratios = new List<Ratio>();
        Console.WriteLine($"device {DeviceName}, torch threads: {torch.get_num_threads()}, rounds: {rounds}, {Environment.ProcessorCount} cores, {RuntimeInfo()}");

        foreach (var batch in new[] { 64, 256 })
        {
            // MLP: dispatch-bound.
            Compare($"mlp train b{batch}", rounds, quick ? 10 : 30,
                [("ours", () => OursStep(Mlp(), digits, batch, "flat")), ("hand", () => HandStep(HandMlp(), digits, batch, "flat"))], results, ratios);
            Compare($"mlp infer b{batch}", rounds, quick ? 20 : 60,
                [("ours", () => OursInfer(Mlp(), digits, batch, "flat")), ("hand", () => HandInfer(HandMlp(), digits, batch, "flat"))], results, ratios);
            // CNN, both data formats of ours against the hand-written NCHW network.
            Compare($"cnn train b{batch}", rounds, quick ? 2 : (batch == 64 ? 8 : 3),
                [("ours channels_last", () => OursStep(Cnn(true), digits, batch, "nhwc")),
                 ("ours channels_first", () => OursStep(Cnn(false), digits, batch, "nchw")),
                 ("hand", () => HandStep(HandCnn(), digits, batch, "nchw"))], results, ratios);
            // (a) as users train: compile + the compiled step (Keras-exact Adam, loss, accuracy metric) and fit over
            // whole epochs, against the hand loop over the same batches.
            Compare($"cnn compiled step b{batch}", rounds, quick ? 2 : (batch == 64 ? 8 : 3),
                [("ours compiled step", () => OursCompiledStep(Cnn(true), digits, batch, "nhwc")),
                 ("hand", () => HandStep(HandCnn(), digits, batch, "nchw"))], results, ratios);
            Compare($"cnn fit epoch b{batch} (per step)", quick ? 3 : 7, 1,
                [("ours fit", () => OursFitEpoch(Cnn(true), digits, batch, "nhwc", quick ? 4 : 16)),
                 ("hand loop", () => HandEpoch(HandCnn(), digits, batch, "nchw", quick ? 4 : 16))], results, ratios, perStepDivisor: quick ? 4 : 16);
            Compare($"cnn infer b{batch}", rounds, quick ? 3 : (batch == 64 ? 15 : 5),
                [("ours channels_last", () => OursInfer(Cnn(true), digits, batch, "nhwc")),
                 ("ours channels_first", () => OursInfer(Cnn(false), digits, batch, "nchw")),
                 ("hand", () => HandInfer(HandCnn(), digits, batch, "nchw"))], results, ratios);
        }

        Console.WriteLine();
        Console.WriteLine("| case | variant | median ms/step | min | max |");
        Console.WriteLine("| --- | --- | ---: | ---: | ---: |");
        foreach (var r in results) Console.WriteLine($"| {r.Case} | {r.Variant} | {r.MedianMs:F3} | {r.MinMs:F3} | {r.MaxMs:F3} |");
        Console.WriteLine();
        Console.WriteLine("| case | ratio | median | min | max |");
        Console.WriteLine("| --- | --- | ---: | ---: | ---: |");
        foreach (var r in ratios) Console.WriteLine($"| {r.Case} | {r.Versus} | {r.Median:F3} | {r.Min:F3} | {r.Max:F3} |");
        if (jsonPath is not null)
            File.WriteAllText(jsonPath, JsonSerializer.Serialize(new { results, ratios }, new JsonSerializerOptions { WriteIndented = true }));
    }

    // A variant is a factory returning a step action (set-up is outside the timing).
    static void Compare(string name, int rounds, int stepsPerBlock, (string Name, Func<Action> Make)[] variants,
        List<Result> results, List<Ratio> ratios, int perStepDivisor = 1)
    {
        var steps = variants.Select(v => v.Make()).ToArray();
        foreach (var s in steps) for (var i = 0; i < 3; i++) s();        // warm-up
        var times = variants.Select(_ => new List<double>()).ToArray();
        for (var r = 0; r < rounds; r++)
            for (var v = 0; v < steps.Length; v++)
            {
                var order = (r % 2 == 0) ? v : steps.Length - 1 - v;     // alternate the order each round
                var sw = Stopwatch.StartNew();
                for (var i = 0; i < stepsPerBlock; i++) steps[order]();
                times[order].Add(sw.Elapsed.TotalMilliseconds / stepsPerBlock / perStepDivisor);
            }
        var hand = times[^1];
        for (var v = 0; v < variants.Length; v++)
        {
            results.Add(new Result(name, variants[v].Name, Median(times[v]), times[v].Min(), times[v].Max()));
            if (v < variants.Length - 1)
            {
                var paired = times[v].Zip(hand, (a, b) => a / b).ToList();
                ratios.Add(new Ratio(name, $"{variants[v].Name} / hand", Median(paired), paired.Min(), paired.Max()));
            }
        }
        Console.WriteLine($"{name}: " + string.Join(", ", variants.Select((v, i) => $"{v.Name} {Median(times[i]):F3} ms")));
    }

    static Action OursStep(Sequential model, DigitSet digits, int batch, string layout)
    {
        torch.manual_seed(1);
        var net = BuiltModel.Build(model, Dev);
        var opt = optim.Adam(net.TrainableParameters, lr: 1e-3);
        var (x, y) = Batch(digits, batch, layout, 0);
        return () => net.TrainStep(x, y, Loss, opt);
    }

    static Action HandStep(nn.Module<Tensor, Tensor> net, DigitSet digits, int batch, string layout)
    {
        torch.manual_seed(1);
        net.to(TorchDev);
        var opt = optim.Adam(net.parameters(), lr: 1e-3);
        var (x, y) = Batch(digits, batch, layout, 0);
        net.train();
        return () =>
        {
            using var scope = NewDisposeScope();
            opt.zero_grad();
            var loss = Loss(net.call(x), y);
            loss.backward();
            opt.step();
            _ = loss.item<float>();
        };
    }

    static Action OursCompiledStep(Sequential model, DigitSet digits, int batch, string layout)
    {
        torch.manual_seed(1);
        var net = BuiltModel.Build(model, Dev);
        var compiled = net.Compile(new Adam(), new SparseCategoricalCrossentropy(), "accuracy");
        var (x, y) = Batch(digits, batch, layout, 0);
        return () => compiled.TrainStep([x], [y]);
    }

    // One epoch of `fit` over `steps` batches (no shuffle, silent), against the same batches in a hand loop.
    static Action OursFitEpoch(Sequential model, DigitSet digits, int batch, string layout, int steps)
    {
        torch.manual_seed(1);
        var net = BuiltModel.Build(model, Dev);
        var compiled = net.Compile(new Adam(), new SparseCategoricalCrossentropy(), "accuracy");
        var (x, y) = Batch(digits, batch * steps, layout, 0);
        return () => compiled.Fit(x, y, batchSize: batch, epochs: 1, verbose: 0, shuffle: false);
    }

    static Action HandEpoch(nn.Module<Tensor, Tensor> net, DigitSet digits, int batch, string layout, int steps)
    {
        torch.manual_seed(1);
        net.to(TorchDev);
        var opt = optim.Adam(net.parameters(), lr: 1e-3, eps: 1e-7);
        var (x, y) = Batch(digits, batch * steps, layout, 0);
        net.train();
        return () =>
        {
            for (var s = 0; s < steps; s++)
            {
                using var scope = NewDisposeScope();
                opt.zero_grad();
                var loss = Loss(net.call(x.narrow(0, s * batch, batch)), y.narrow(0, s * batch, batch));
                loss.backward();
                opt.step();
                _ = loss.item<float>();
            }
        };
    }

    static Action OursInfer(Sequential model, DigitSet digits, int batch, string layout)
    {
        var net = BuiltModel.Build(model, Dev);
        net.eval();
        var (x, _) = Batch(digits, batch, layout, 0);
        return () =>
        {
            using var scope = NewDisposeScope();
            using var noGrad = no_grad();
            _ = net.call(x).sum().item<float>();
        };
    }

    static Action HandInfer(nn.Module<Tensor, Tensor> net, DigitSet digits, int batch, string layout)
    {
        net.to(TorchDev);
        net.eval();
        var (x, _) = Batch(digits, batch, layout, 0);
        return () =>
        {
            using var scope = NewDisposeScope();
            using var noGrad = no_grad();
            _ = net.call(x).sum().item<float>();
        };
    }

    // ---- soak ---------------------------------------------------------------------------------------------
    public static void Soak(int steps)
    {
        LibTorchInit();
        var digits = DigitSet.Load(DigitSet.FindRepositoryData("mnist"));
        torch.manual_seed(3);
        using var net = BuiltModel.Build(new Sequential(new Input(784), new Dense(64, activation: "relu"), new Dense(10, activation: "softmax")));
        // Through the compiled step fit uses: Keras's Adam, sparse categorical cross-entropy and the accuracy metric.
        var compiled = net.Compile(new Adam(), new SparseCategoricalCrossentropy(), "accuracy");
        var (xAll, yAll) = Batch(digits, 8192, "flat", 0);
        Console.WriteLine("| step | live tensors | RSS MiB | loss |");
        Console.WriteLine("| ---: | ---: | ---: | ---: |");
        var samples = new List<(int Step, long Live, double Rss)>();
        for (var s = 0; s <= steps; s++)
        {
            var offset = (s * 32) % (8192 - 32);
            using var xb = xAll.narrow(0, offset, 32);
            using var yb = yAll.narrow(0, offset, 32);
            var loss = compiled.TrainStep([xb], [yb]);
            if (s % (steps / 10) == 0)
            {
                GC.Collect(); GC.WaitForPendingFinalizers(); GC.Collect();
                var live = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
                var rss = Process.GetCurrentProcess().WorkingSet64 / 1048576.0;
                samples.Add((s, live, rss));
                Console.WriteLine($"| {s} | {live} | {rss:F1} | {loss:F4} |");
            }
        }
        var afterWarm = samples.Skip(1).ToList();
        Console.WriteLine($"live tensors: first {afterWarm[0].Live}, last {afterWarm[^1].Live} (growth {afterWarm[^1].Live - afterWarm[0].Live}); " +
                          $"RSS first {afterWarm[0].Rss:F1} MiB, last {afterWarm[^1].Rss:F1} MiB");
    }

    // ---- summary ------------------------------------------------------------------------------------------
    public static void Summary(bool quick)
    {
        // Keras's ResNet50 as a graph (177 layers, 25.6M parameters): declaring it infers and checks every shape;
        // then the Keras summary is rendered. libtorch must stay unloaded throughout.
        var runs = quick ? 20 : 200;
        var declare = new List<double>();
        var summarize = new List<double>();
        string text = "";
        Functional.Models.Model? model = null;
        for (var i = 0; i < runs; i++)
        {
            var sw = Stopwatch.StartNew();
            model = Functional.Applications.ResNet50();
            declare.Add(sw.Elapsed.TotalMilliseconds);
            sw.Restart();
            text = model.Summary();
            summarize.Add(sw.Elapsed.TotalMilliseconds);
        }
        var total = declare.Zip(summarize, (a, b) => a + b).ToList();
        var loaded = AppDomain.CurrentDomain.GetAssemblies().Any(a => a.GetName().Name == "TorchSharp");
        Console.WriteLine(string.Join("\n", text.Split('\n').TakeLast(5)));
        Console.WriteLine($"ResNet50 graph: {model!.Layers.Count()} layers, {model.ParameterCount:N0} params, {text.Split('\n').Length} summary lines");
        Console.WriteLine($"declare (shape inference) median {Median(declare):F3} ms, summary median {Median(summarize):F3} ms, " +
                          $"both median {Median(total):F3} ms (min {total.Min():F3}, max {total.Max():F3}; first, cold {total[0]:F3} ms)");
        Console.WriteLine($"TorchSharp assembly loaded: {loaded}");
    }

    static double Median(List<double> xs)
    {
        var s = xs.OrderBy(x => x).ToList();
        return s.Count % 2 == 1 ? s[s.Count / 2] : (s[s.Count / 2 - 1] + s[s.Count / 2]) / 2;
    }

    static void LibTorchInit() => Functional.Native.LibTorch.EnsureLoaded();

    static string RuntimeInfo() => $".NET {Environment.Version}, TorchSharp {typeof(torch).Assembly.GetName().Version}";
}
