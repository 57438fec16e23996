// Functional benchmarks. Modes:
//   step    train-step and inference time: ours (a) vs hand-written TorchSharp (b), alternating blocks in one process
//   soak    N train steps of a small model, sampling live native tensors and RSS (no growth expected)
//   ops     host-side work per step: native tensor handles created per step (exact) and the time of a dispatch-bound
//           tiny MLP, ours vs a hand loop doing the same work (Keras's loss, accuracy, one read per step)
//   summary shape inference + summary of a large declared model, with libtorch never loaded
//   kernels the cost of the CPU-kernel guard: ours with libtorch's reference kernels vs the same with oneDNN, alternating
//   dtype   the main job's CNN, compiled train step: float32 against the mixed_bfloat16 and bfloat16 policies, alternating
//   service examples/Service's latency over HTTP (p50/p95 at concurrency 1 and 8) and batch-1 Predict vs a hand-written
//           forward (ServiceBench.cs); --requests N sets the HTTP requests per case (default 2000)
// Usage: dotnet run --project bench/Functional.Bench -- step [--quick] [--device cuda] [--case "cnn train"] [--rounds N] [--json out.json]
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Functional;
using Functional.Shapes;
using Functional.Functions;
using Functional.Data;
using Functional.Torch.Data;
using Functional.Layers;
using Functional.Models;
using Functional.Torch;
using Functional.Torch.Building;
using Functional.Training;
using Functional.Torch.Training;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

var mode = args.FirstOrDefault(a => !a.StartsWith("--")) ?? "step";
Bench.DeviceName = args.SkipWhile(a => a != "--device").Skip(1).FirstOrDefault() ?? "cpu";
var quick = args.Contains("--quick");
Bench.CaseFilter = args.SkipWhile(a => a != "--case").Skip(1).FirstOrDefault();   // run only the cases whose name contains this
if (args.Contains("--rounds"))
{
    var r = args.SkipWhile(a => a != "--rounds").Skip(1).FirstOrDefault();
    if (!int.TryParse(r, NumberStyles.None, CultureInfo.InvariantCulture, out var rounds) || rounds < 1)
    {
        Console.Error.WriteLine($"--rounds expects a positive integer; received '{r}'.");
        return 2;
    }
    Bench.RoundsOverride = rounds;
}
if (args.Contains("--requests"))
{
    var r = args.SkipWhile(a => a != "--requests").Skip(1).FirstOrDefault();
    if (!int.TryParse(r, NumberStyles.None, CultureInfo.InvariantCulture, out var requests) || requests < 1)
    {
        Console.Error.WriteLine($"--requests expects a positive integer; received '{r}'.");
        return 2;
    }
    Bench.RequestsOverride = requests;
}
string? jsonPath = args.SkipWhile(a => a != "--json").Skip(1).FirstOrDefault();
CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;

switch (mode)
{
    case "summary": Bench.Summary(quick); break;
    case "soak": Bench.Soak(quick ? 2000 : 10000); break;
    case "step": Bench.Steps(quick, jsonPath); break;
    case "ops": Bench.Ops(quick); break;
    case "kernels": Bench.Kernels(quick); break;
    case "dtype": Bench.Dtypes(quick); break;
    case "service": Bench.Service(quick); break;
    default: Console.Error.WriteLine($"unknown mode '{mode}' (step | ops | soak | summary | kernels | dtype | service)"); return 2;
}
return 0;

static partial class Bench
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

    // The same networks written by hand in TorchSharp (NCHW), the zero-overhead bound. Each starts from the weights ours
    // starts from (same seed, same Keras initializers), copied in PyTorch's layout.
    public static nn.Module<Tensor, Tensor> HandCnn() => WithOurStart(nn.Sequential(
        nn.Conv2d(1, 32, 3, padding: 1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding: 1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(64, 128, 3, padding: 1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(1152, 10), nn.Softmax(1)), Cnn(true));

    // The same network flattening in Keras's (h, w, c) order, as ours must: a permute before the flatten, and the Dense
    // kernel as ours has it. Against this, ours does the same work.
    public static nn.Module<Tensor, Tensor> HandCnnKerasFlatten() => WithOurStart(nn.Sequential(
        nn.Conv2d(1, 32, 3, padding: 1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding: 1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(64, 128, 3, padding: 1), nn.ReLU(), nn.MaxPool2d(2),
        new KerasOrderFlatten(), nn.Linear(1152, 10), nn.Softmax(1)), Cnn(true), kerasFlattenOrder: true);

    sealed class KerasOrderFlatten() : nn.Module<Tensor, Tensor>("keras_order_flatten")
    {
        public override Tensor forward(Tensor x) { using var t = x.permute(0, 2, 3, 1); return t.flatten(1); }
    }

    public static nn.Module<Tensor, Tensor> HandMlp() => WithOurStart(nn.Sequential(
        nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 256), nn.ReLU(), nn.Linear(256, 10), nn.Softmax(1)), Mlp());

    // Issue 14's recurrent case: two LSTM(128) layers over the 28 rows of a digit (28 steps of 28 pixels) and a softmax,
    // the sequence model of examples/MnistLstm with a second layer.
    public static Sequential Lstm() => new(new Input(28, 28),
        new LSTM(128, returnSequences: true), new LSTM(128), new Dense(10, activation: "softmax"));

    // The same network by hand: TorchSharp's two-layer nn.LSTM (libtorch's fused kernel), the last step, Linear, softmax.
    // It starts from ours: each Keras kernel (in, 4u) and recurrent kernel (u, 4u) transposed (the gate order i, f, c, o
    // is torch's i, f, g, o), Keras's one bias as bias_ih and zeros as bias_hh.
    sealed class HandLstmNet : nn.Module<Tensor, Tensor>
    {
        private readonly TorchSharp.Modules.LSTM lstm;
        private readonly TorchSharp.Modules.Linear dense;

        public HandLstmNet() : base("hand_lstm")
        {
            lstm = nn.LSTM(28, 128, numLayers: 2, batchFirst: true);
            dense = nn.Linear(128, 10);
            RegisterComponents();
        }

        public override Tensor forward(Tensor x)
        {
            using var scope = NewDisposeScope();
            var (output, h, c) = lstm.call(x);
            var last = output.select(1, output.shape[1] - 1);
            return F.softmax(dense.call(last), 1).MoveToOuterDisposeScope();
        }
    }

    public static nn.Module<Tensor, Tensor> HandLstm()
    {
        var hand = new HandLstmNet();
        using var built = BuildOurs(Lstm());
        using var noGrad = no_grad();
        var keras = built.Weights.ToDictionary(w => w.Name, w => w.KerasView());
        var target = hand.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        void Copy(string to, Tensor from) => target[to].copy_(from.to(target[to].device));
        foreach (var (layer, i) in new[] { ("lstm", 0), ("lstm_1", 1) })
        {
            Copy($"lstm.weight_ih_l{i}", keras[$"{layer}/kernel"].t());
            Copy($"lstm.weight_hh_l{i}", keras[$"{layer}/recurrent_kernel"].t());
            Copy($"lstm.bias_ih_l{i}", keras[$"{layer}/bias"]);
            target[$"lstm.bias_hh_l{i}"].zero_();
        }
        Copy("dense.weight", keras["dense/kernel"].t());
        Copy("dense.bias", keras["dense/bias"]);
        foreach (var v in keras.Values) v.Dispose();
        return hand;
    }

    static nn.Module<Tensor, Tensor> WithOurStart(nn.Module<Tensor, Tensor> hand, Sequential ours, bool kerasFlattenOrder = false)
    {
        using var built = BuildOurs(ours);
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var source = built.Weights.Select(w => (Tensor)w.Parameter).ToList();
        var target = hand.parameters().ToList();
        if (source.Count != target.Count) throw new InvalidOperationException("the hand-written network does not match ours");
        for (var i = 0; i < source.Count; i++)
        {
            var w = source[i].to(target[i].device);
            // Keras flattens (h, w, c); torch's Flatten of NCHW gives (c, h, w): reorder the Dense kernel's inputs.
            if (!kerasFlattenOrder && w.dim() == 2 && target[i].shape[1] == 1152)
                w = w.reshape(10, 3, 3, 128).permute(0, 3, 1, 2).reshape(10, 1152);
            target[i].copy_(w);
        }
        return hand;
    }

    static Tensor Loss(Tensor p, Tensor t) => F.nll_loss(p.clamp(1e-7, 1 - 1e-7).log(), t);

    // ---- data ---------------------------------------------------------------------------------------------
    static (Tensor X, Tensor Y) Batch(DigitSet digits, int batch, string layout, int offset)
    {
        using var scope = NewDisposeScope();
        var all = DigitTensors.Images(digits);            // (N, 28, 28, 1)
        var labels = DigitTensors.Labels(digits);
        var x = all.narrow(0, offset, batch);
        var y = labels.narrow(0, offset, batch);
        x = layout switch { "nhwc" => x, "nchw" => x.permute(0, 3, 1, 2), "rows" => x.reshape(batch, 28, 28), _ => x.reshape(batch, 784) };
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
        var rounds = RoundsOverride ?? (quick ? 5 : 15);
        var results = new List<Result>();
        var ratios = new List<Ratio>();
        Console.WriteLine($"device {DeviceName}, torch threads: {torch.get_num_threads()}, rounds: {rounds}, {Environment.ProcessorCount} cores, {RuntimeInfo()}, {HeapInfo()}");
        SameTrajectory(digits);

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
                 // A/A control: a second, identical hand-written network measured like ours. Its ratio to "hand" is
                 // the harness's own bias and noise floor on this machine.
                 ("control: hand again", () => HandStep(HandCnn(), digits, batch, "nchw")),
                 ("hand, Keras flatten order", () => HandStep(HandCnnKerasFlatten(), digits, batch, "nchw")),
                 ("hand", () => HandStep(HandCnn(), digits, batch, "nchw"))], results, ratios);
            // (a) as users train: compile + the compiled step (Keras-exact Adam, loss, accuracy metric) and fit over
            // whole epochs, against a hand loop doing the same work (Keras's loss and accuracy) and the bare hand loop.
            Compare($"cnn compiled step b{batch}", rounds, quick ? 2 : (batch == 64 ? 8 : 3),
                [("ours compiled step", () => OursCompiledStep(Cnn(true), digits, batch, "nhwc")),
                 ("hand Keras step", () => HandKerasStep(HandCnnKerasFlatten(), digits, batch, "nchw")),
                 ("hand step", () => HandStep(HandCnn(), digits, batch, "nchw"))], results, ratios);
            Compare($"cnn fit epoch b{batch} (per step)", quick ? 3 : 7, 1,
                [("ours fit", () => OursFitEpoch(Cnn(true), digits, batch, "nhwc", quick ? 4 : 16)),
                 ("hand Keras loop", () => HandKerasEpoch(HandCnnKerasFlatten(), digits, batch, "nchw", quick ? 4 : 16)),
                 ("hand loop", () => HandEpoch(HandCnn(), digits, batch, "nchw", quick ? 4 : 16))], results, ratios, perStepDivisor: quick ? 4 : 16);
            // Two LSTM(128) layers (issue 14's target: ours within 1.05x of TorchSharp's own nn.LSTM).
            Compare($"lstm train b{batch}", rounds, quick ? 2 : (batch == 64 ? 6 : 2),
                [("ours", () => OursStep(Lstm(), digits, batch, "rows")),
                 ("control: hand again", () => HandStep(HandLstm(), digits, batch, "rows")),
                 ("hand", () => HandStep(HandLstm(), digits, batch, "rows"))], results, ratios);
            Compare($"cnn infer b{batch}", rounds, quick ? 3 : (batch == 64 ? 15 : 5),
                [("ours channels_last", () => OursInfer(Cnn(true), digits, batch, "nhwc")),
                 ("ours channels_first", () => OursInfer(Cnn(false), digits, batch, "nchw")),
                 ("hand", () => HandInfer(HandCnn(), digits, batch, "nchw"))], results, ratios);
        }

        Print(results, ratios);
        if (jsonPath is not null)
            File.WriteAllText(jsonPath, JsonSerializer.Serialize(new { results, ratios }, new JsonSerializerOptions { WriteIndented = true }));
    }

    // The cost of Functional.Torch.Native.CpuKernels's fallback where it applies: the same networks and steps with oneDNN off
    // (libtorch's reference kernels, what the guard uses where oneDNN is wrong) against oneDNN on (what libtorch ships;
    // its numbers may be wrong on this CPU, its time is what the guard gives up), in alternating blocks in one process.
    public static void Kernels(bool quick)
    {
        LibTorchInit();
        var decided = Functional.Torch.Native.CpuKernels.OneDnnEnabled;
        Console.WriteLine(Functional.Torch.Native.CpuKernels.Report);
        var digits = DigitSet.Load(DigitSet.FindRepositoryData("mnist"));
        var rounds = RoundsOverride ?? (quick ? 5 : 15);
        var results = new List<Result>();
        var ratios = new List<Ratio>();
        Console.WriteLine($"torch threads: {torch.get_num_threads()}, rounds: {rounds}, {Environment.ProcessorCount} cores, {RuntimeInfo()}, {HeapInfo()}");
        static Func<Action> With(bool oneDnn, Func<Action> make) => () =>
        {
            var step = make();
            return () => { Functional.Torch.Native.CpuKernels.OneDnnEnabled = oneDnn; step(); };
        };
        try
        {
            foreach (var batch in new[] { 64, 256 })
            {
                foreach (var (format, layout) in new[] { ("channels_last", "nhwc"), ("channels_first", "nchw") })
                    Compare($"cnn train b{batch} {format}", rounds, quick ? 2 : (batch == 64 ? 8 : 3),
                        [("ours, reference kernels", With(false, () => OursStep(Cnn(format == "channels_last"), digits, batch, layout))),
                         ("oneDNN: ours, libtorch's default kernels", With(true, () => OursStep(Cnn(format == "channels_last"), digits, batch, layout)))],
                        results, ratios, baselinePrefix: "oneDNN");
                // Two LSTM(128) layers (issue 14's target: ours within 1.05x of TorchSharp's own nn.LSTM).
            Compare($"lstm train b{batch}", rounds, quick ? 2 : (batch == 64 ? 6 : 2),
                [("ours", () => OursStep(Lstm(), digits, batch, "rows")),
                 ("control: hand again", () => HandStep(HandLstm(), digits, batch, "rows")),
                 ("hand", () => HandStep(HandLstm(), digits, batch, "rows"))], results, ratios);
            Compare($"cnn infer b{batch}", rounds, quick ? 3 : (batch == 64 ? 15 : 5),
                    [("ours, reference kernels", With(false, () => OursInfer(Cnn(true), digits, batch, "nhwc"))),
                     ("oneDNN: ours, libtorch's default kernels", With(true, () => OursInfer(Cnn(true), digits, batch, "nhwc")))],
                    results, ratios, baselinePrefix: "oneDNN");
            }
        }
        finally { Functional.Torch.Native.CpuKernels.OneDnnEnabled = decided; }
        Print(results, ratios);
    }

    // Mixed precision's speed on this CPU: the main job's CNN (channels_last) as users train it (compile + the compiled
    // step: Keras's Adam, loss and accuracy), declared under float32 and under the mixed_bfloat16 and bfloat16 policies,
    // in alternating blocks in one process. (Training only: the inference helper reads a float32 result.)
    public static void Dtypes(bool quick)
    {
        LibTorchInit();
        Console.WriteLine(Functional.Torch.Native.CpuKernels.Report);
        var digits = DigitSet.Load(DigitSet.FindRepositoryData("mnist"));
        var rounds = RoundsOverride ?? (quick ? 5 : 15);
        var results = new List<Result>();
        var ratios = new List<Ratio>();
        Console.WriteLine($"device {DeviceName}, torch threads: {torch.get_num_threads()}, rounds: {rounds}, {Environment.ProcessorCount} cores, {RuntimeInfo()}, {HeapInfo()}");
        static Sequential Under(DTypePolicy policy)
        {
            using var scope = DTypePolicy.Use(policy);
            return Cnn(true);
        }
        foreach (var batch in new[] { 64, 256 })
        {
            Compare($"cnn compiled step b{batch}", rounds, quick ? 2 : (batch == 64 ? 8 : 3),
                [("float32: ours", () => OursCompiledStep(Under(DTypePolicy.Float32), digits, batch, "nhwc")),
                 ("ours mixed_bfloat16", () => OursCompiledStep(Under(DTypePolicy.MixedBFloat16), digits, batch, "nhwc")),
                 ("ours bfloat16", () => OursCompiledStep(Under(DTypePolicy.BFloat16), digits, batch, "nhwc"))],
                results, ratios, baselinePrefix: "float32");
        }
        Print(results, ratios);
    }

    static void Print(List<Result> results, List<Ratio> ratios)
    {
        Console.WriteLine();
        Console.WriteLine("| case | variant | median ms/step | min | max |");
        Console.WriteLine("| --- | --- | ---: | ---: | ---: |");
        foreach (var r in results) Console.WriteLine($"| {r.Case} | {r.Variant} | {r.MedianMs:F3} | {r.MinMs:F3} | {r.MaxMs:F3} |");
        Console.WriteLine();
        Console.WriteLine("| case | ratio | median | min | max |");
        Console.WriteLine("| --- | --- | ---: | ---: | ---: |");
        foreach (var r in ratios) Console.WriteLine($"| {r.Case} | {r.Versus} | {r.Median:F3} | {r.Min:F3} | {r.Max:F3} |");
    }

    // Checks the claim that ours and the hand-written network train alike: same start, same batches → the same losses.
    static void SameTrajectory(DigitSet digits)
    {
        foreach (var (name, ours, hand, layout) in new (string, Sequential, Func<nn.Module<Tensor, Tensor>>, string)[]
                 { ("cnn", Cnn(true), HandCnn, "nhwc"), ("cnn, Keras flatten order", Cnn(true), HandCnnKerasFlatten, "nhwc"), ("mlp", Mlp(), HandMlp, "flat") })
        {
            using var net = BuildOurs(ours);
            var h = hand().to(TorchDev);
            h.train();
            var optOurs = optim.Adam(net.TrainableParameters, lr: 1e-3);
            var optHand = optim.Adam(h.parameters(), lr: 1e-3);
            var (x, y) = Batch(digits, 64 * 3, layout, 0);
            var (xh, _) = Batch(digits, 64 * 3, layout == "nhwc" ? "nchw" : layout, 0);
            var worst = 0.0;
            for (var s = 0; s < 3; s++)
            {
                using var scope = NewDisposeScope();
                var a = net.TrainStep(x.narrow(0, s * 64, 64), y.narrow(0, s * 64, 64), Loss, optOurs);
                optHand.zero_grad();
                var l = Loss(h.call(xh.narrow(0, s * 64, 64)), y.narrow(0, s * 64, 64));
                l.backward();
                optHand.step();
                worst = Math.Max(worst, Math.Abs(a - l.item<float>()));
            }
            Console.WriteLine($"{name}: ours and hand-written losses over 3 steps from the same start differ by at most {worst:G3}");
        }
    }

    // A variant is a factory returning a step action (set-up is outside the timing).
    public static string? CaseFilter;
    public static int? RoundsOverride;

    static void Compare(string name, int rounds, int stepsPerBlock, (string Name, Func<Action> Make)[] variants,
        List<Result> results, List<Ratio> ratios, int perStepDivisor = 1, string baselinePrefix = "hand")
    {
        if (CaseFilter is not null && !name.Contains(CaseFilter, StringComparison.Ordinal)) return;
        var steps = variants.Select(v => v.Make()).ToArray();
        foreach (var s in steps) for (var i = 0; i < 3; i++) s();        // warm-up
        var times = variants.Select(_ => new List<double>()).ToArray();
        var random = new Random(17);   // seeded: the same block order in every run
        for (var r = 0; r < rounds; r++)
        {
            // A new random order of the variants every round, so no variant keeps a position (first after a switch,
            // between two others, ...) and position effects average out.
            var order = Enumerable.Range(0, steps.Length).ToArray();
            random.Shuffle(order);
            foreach (var v in order)
            {
                var sw = Stopwatch.StartNew();
                for (var i = 0; i < stepsPerBlock; i++) steps[v]();
                times[v].Add(sw.Elapsed.TotalMilliseconds / stepsPerBlock / perStepDivisor);
            }
        }
        // Every "ours" (and "control") variant against every "hand" variant (the baselines), as paired per-round ratios.
        for (var v = 0; v < variants.Length; v++)
            results.Add(new Result(name, variants[v].Name, Median(times[v]), times[v].Min(), times[v].Max()));
        for (var v = 0; v < variants.Length; v++)
            for (var h = 0; h < variants.Length; h++)
            {
                if (!(variants[v].Name.StartsWith("ours") || variants[v].Name.StartsWith("control")) || !variants[h].Name.StartsWith(baselinePrefix)) continue;
                var paired = times[v].Zip(times[h], (a, b) => a / b).ToList();
                ratios.Add(new Ratio(name, $"{variants[v].Name} / {variants[h].Name}", Median(paired), paired.Min(), paired.Max()));
            }
        Console.WriteLine($"{name}: " + string.Join(", ", variants.Select((v, i) => $"{v.Name} {Median(times[i]):F3} ms")));
    }

    // Train steps cycle through the same ring of batches on both sides, and both sides start from the same weights
    // (see HandCnn), so ours and the hand-written network follow the same numerical trajectory: a difference in time is
    // a difference in work, not in where training went (e.g. into denormal gradients after overfitting one batch).
    const int Ring = 8;

    static BuiltNetwork BuildOurs(Sequential model)
    {
        torch.manual_seed(1);
        return BuiltNetwork.Build(model, Dev);
    }

    static Action OursStep(Sequential model, DigitSet digits, int batch, string layout)
    {
        var net = BuildOurs(model);
        var opt = optim.Adam(net.TrainableParameters, lr: 1e-3);
        var (x, y) = Batch(digits, batch * Ring, layout, 0);
        var k = 0;
        return () =>
        {
            using var scope = NewDisposeScope();
            var start = (k++ % Ring) * batch;
            net.TrainStep(x.narrow(0, start, batch), y.narrow(0, start, batch), Loss, opt);
        };
    }

    static Action HandStep(nn.Module<Tensor, Tensor> net, DigitSet digits, int batch, string layout)
    {
        var (opt, x, y) = HandSetup(net, digits, batch * Ring, layout, eps: 1e-8);
        var k = 0;
        return () =>
        {
            var start = (k++ % Ring) * batch;
            HandBatch(net, opt, x.narrow(0, start, batch), y.narrow(0, start, batch));
        };
    }

    // The hand-written network on the device in training mode, its Adam, and `samples` samples of data.
    static (optim.Optimizer Opt, Tensor X, Tensor Y) HandSetup(nn.Module<Tensor, Tensor> net, DigitSet digits, int samples, string layout, double eps)
    {
        net.to(TorchDev);
        net.train();
        var (x, y) = Batch(digits, samples, layout, 0);
        return (optim.Adam(net.parameters(), lr: 1e-3, eps: eps), x, y);
    }

    // One bare hand-written step: forward, loss, backward, Adam, read the loss.
    static void HandBatch(nn.Module<Tensor, Tensor> net, optim.Optimizer opt, Tensor xb, Tensor yb)
    {
        using var scope = NewDisposeScope();
        opt.zero_grad();
        var loss = Loss(net.call(xb), yb);
        loss.backward();
        opt.step();
        _ = loss.item<float>();
    }

    static Action OursCompiledStep(Sequential model, DigitSet digits, int batch, string layout)
    {
        var net = BuildOurs(model);
        var compiled = net.Compile(new Adam(), new SparseCategoricalCrossentropy(), "accuracy");
        var (x, y) = Batch(digits, batch * Ring, layout, 0);
        var k = 0;
        return () =>
        {
            using var scope = NewDisposeScope();
            var start = (k++ % Ring) * batch;
            compiled.TrainStep([x.narrow(0, start, batch)], [y.narrow(0, start, batch)]);
        };
    }

    // One epoch of `fit` over `steps` batches (no shuffle, silent), against the same batches in a hand loop.
    static Action OursFitEpoch(Sequential model, DigitSet digits, int batch, string layout, int steps)
    {
        var net = BuildOurs(model);
        var compiled = net.Compile(new Adam(), new SparseCategoricalCrossentropy(), "accuracy");
        var (x, y) = Batch(digits, batch * steps, layout, 0);
        return () => compiled.Fit(x, y, batchSize: batch, epochs: 1, verbose: 0, shuffle: false);
    }

    static Action HandEpoch(nn.Module<Tensor, Tensor> net, DigitSet digits, int batch, string layout, int steps)
    {
        var (opt, x, y) = HandSetup(net, digits, batch * steps, layout, eps: 1e-7);
        return () =>
        {
            for (var s = 0; s < steps; s++) HandBatch(net, opt, x.narrow(0, s * batch, batch), y.narrow(0, s * batch, batch));
        };
    }

    static Action OursInfer(Sequential model, DigitSet digits, int batch, string layout)
    {
        var net = BuildOurs(model);
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

    // ---- host-side work per step ---------------------------------------------------------------------------
    // Each TorchSharp call that makes a tensor crosses P/Invoke and (on a GPU) usually launches a kernel, so the number of
    // native tensor handles a step creates is an exact, noise-free measure of its host-side work. The timing uses a tiny
    // MLP (784→32→10, batch 16) whose compute is negligible: what is left is dispatch, as on a GPU.
    public static void Ops(bool quick)
    {
        LibTorchInit();
        var digits = DigitSet.Load(DigitSet.FindRepositoryData("mnist"));
        Console.WriteLine($"device {DeviceName}, torch threads: {torch.get_num_threads()}, {RuntimeInfo()}, {HeapInfo()}");
        Console.WriteLine();
        Console.WriteLine($"| network, batch | variant | tensors created per step | minor page faults per step |");
        Console.WriteLine("| --- | --- | ---: | ---: |");
        foreach (var (name, batch, layout, ours, hand) in new (string, int, string, Func<Sequential>, Func<nn.Module<Tensor, Tensor>>)[]
                 {
                     ("cnn channels_last b64", 64, "nhwc", () => Cnn(true), HandCnn),
                     ("cnn channels_first b64", 64, "nchw", () => Cnn(false), HandCnn),
                     ("cnn channels_first b256", 256, "nchw", () => Cnn(false), HandCnn),
                     ("mlp b64", 64, "flat", Mlp, HandMlp),
                 })
        {
            var handLayout = layout == "flat" ? "flat" : "nchw";
            foreach (var (variant, make) in new (string, Func<Action>)[]
                     {
                         ("ours step", () => OursStep(ours(), digits, batch, layout)),
                         ("hand step", () => HandStep(hand(), digits, batch, handLayout)),
                         ("ours compiled step", () => OursCompiledStep(ours(), digits, batch, layout)),
                         ("hand Keras step", () => HandKerasStep(hand(), digits, batch, handLayout)),
                         ("ours fit (per step of a 16-batch epoch)", () => OursFitEpoch(ours(), digits, batch, layout, 16)),
                         ("hand Keras loop (per step)", () => HandKerasEpoch(hand(), digits, batch, handLayout, 16)),
                         ("ours inference", () => OursInfer(ours(), digits, batch, layout)),
                         ("hand inference", () => HandInfer(hand(), digits, batch, handLayout)),
                     })
            {
                var per = variant.Contains("per step") ? 16 : 1;
                Console.WriteLine($"| {name} | {variant} | {TensorsPerStep(make()) / per:F1} | {FaultsPerStep(make()) / per:F0} |");
            }
        }
        Console.WriteLine();
        var results = new List<Result>();
        var ratios = new List<Ratio>();
        var rounds = quick ? 7 : 21;
        Compare("tiny mlp train b16", rounds, quick ? 50 : 200,
            [("ours step", () => OursStep(TinyMlp(), digits, 16, "flat")), ("hand step", () => HandStep(HandTinyMlp(), digits, 16, "flat"))], results, ratios);
        Compare("tiny mlp compiled step b16", rounds, quick ? 50 : 200,
            [("ours compiled step", () => OursCompiledStep(TinyMlp(), digits, 16, "flat")),
             ("hand Keras step", () => HandKerasStep(HandTinyMlp(), digits, 16, "flat"))], results, ratios);
        Compare("tiny mlp fit epoch b16 (per step)", rounds, 1,
            [("ours fit", () => OursFitEpoch(TinyMlp(), digits, 16, "flat", 64)),
             ("hand Keras loop", () => HandKerasEpoch(HandTinyMlp(), digits, 16, "flat", 64))], results, ratios, perStepDivisor: 64);
        Print(results, ratios);
    }

    static Sequential TinyMlp() => new(new Input(784), new Dense(32, activation: "relu"), new Dense(10, activation: "softmax"));
    static nn.Module<Tensor, Tensor> HandTinyMlp() =>
        WithOurStart(nn.Sequential(nn.Linear(784, 32), nn.ReLU(), nn.Linear(32, 10), nn.Softmax(1)), TinyMlp());

    // Minor page faults of this process (Linux): each is a fresh page the kernel had to map and zero.
    static long MinorFaults() => OperatingSystem.IsLinux()
        ? long.Parse(File.ReadAllText("/proc/self/stat").Split(") ")[1].Split(' ')[7], CultureInfo.InvariantCulture) : 0;

    static double FaultsPerStep(Action step)
    {
        for (var i = 0; i < 3; i++) step();
        const int n = 10;
        var before = MinorFaults();
        for (var i = 0; i < n; i++) step();
        return (MinorFaults() - before) / (double)n;
    }

    static double TensorsPerStep(Action step)
    {
        for (var i = 0; i < 3; i++) step();
        var stats = DisposeScopeManager.Statistics;
        long Created() => stats.CreatedInScopeCount + stats.CreatedOutsideScopeCount;
        const int n = 20;
        var before = Created();
        for (var i = 0; i < n; i++) step();
        return (Created() - before) / (double)n;
    }

    static Action HandKerasStep(nn.Module<Tensor, Tensor> net, DigitSet digits, int batch, string layout)
    {
        var (opt, x, y) = HandSetup(net, digits, batch * Ring, layout, eps: 1e-7);
        var tally = new double[2];
        var k = 0;
        return () =>
        {
            var start = (k++ % Ring) * batch;
            HandKerasBatch(net, opt, x.narrow(0, start, batch), y.narrow(0, start, batch), tally);
        };
    }

    static Action HandKerasEpoch(nn.Module<Tensor, Tensor> net, DigitSet digits, int batch, string layout, int steps)
    {
        var (opt, x, y) = HandSetup(net, digits, batch * steps, layout, eps: 1e-7);
        return () =>
        {
            var tally = new double[2];
            for (var s = 0; s < steps; s++) HandKerasBatch(net, opt, x.narrow(0, s * batch, batch), y.narrow(0, s * batch, batch), tally);
        };
    }

    // One hand-written step doing the work compile/fit does: Keras's cross-entropy on probabilities (renormalise, clip,
    // log), the Adam step, the batch's correct-prediction count, and one host read of loss and count (what a progress
    // line needs), added to `tally` (loss × samples, correct).
    static void HandKerasBatch(nn.Module<Tensor, Tensor> net, optim.Optimizer opt, Tensor xb, Tensor yb, double[] tally)
    {
        using var scope = NewDisposeScope();
        opt.zero_grad();
        var p = net.call(xb);
        var loss = F.nll_loss((p / p.sum(1, keepdim: true)).clamp(1e-7, 1 - 1e-7).log(), yb);
        loss.backward();
        opt.step();
        using var noGrad = no_grad();
        var read = torch.stack([loss.detach(), p.argmax(1).eq(yb).sum().to_type(ScalarType.Float32)]).cpu().data<float>();
        tally[0] += read[0] * xb.shape[0];
        tally[1] += read[1];
    }

    // ---- soak ---------------------------------------------------------------------------------------------
    public static void Soak(int steps)
    {
        LibTorchInit();
        var digits = DigitSet.Load(DigitSet.FindRepositoryData("mnist"));
        torch.manual_seed(3);
        using var net = BuiltNetwork.Build(new Sequential(new Input(784), new Dense(64, activation: "relu"), new Dense(10, activation: "softmax")));
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

    static void LibTorchInit() => Functional.Torch.Native.LibTorch.EnsureLoaded();

    static string HeapInfo() => Functional.Torch.Native.HeapTuning.Applied ? "glibc heap tuned (Functional.Torch.Native.HeapTuning)"
        : $"glibc heap defaults ({Functional.Torch.Native.HeapTuning.SkippedBecause})";

    static string RuntimeInfo() => $".NET {Environment.Version}, TorchSharp {typeof(torch).Assembly.GetName().Version}";
}
