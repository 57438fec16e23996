// The service benchmark (mode "service"): what examples/Service costs per request, and what Predict costs against the
// zero-overhead bound.
//   1. batch-1 inference of the MNIST CNN: BuiltNetwork.Predict, ServedModel.Predict (float[] in and out, what a request
//      runs) and a hand-written TorchSharp forward of the same network with the same weights, in alternating blocks;
//      plus one Predict of 8 samples against 8 Predicts of 1 (what micro-batching could gain at concurrency 8);
//   2. HTTP latency: the service on a loopback port in this process (real Kestrel, real HttpClient; client and server share
//      the machine's cores), p50/p95/p99 per request at concurrency 1 and 8, JSON and PNG bodies, and JSON micro-batched
//      (--micro-batch), in alternating rounds.
using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using Functional.Data;
using Functional.Torch.Data;
using Functional.Examples.Service;
using Functional.Models;
using Functional.Torch.Formats;
using Functional.Torch.Saving;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Logging;
using SkiaSharp;
using TorchSharp;
using static TorchSharp.torch;

static partial class Bench
{
    public static int? RequestsOverride;

    public static void Service(bool quick)
    {
        LibTorchInit();
        var digits = DigitSet.Load(DigitSet.FindRepositoryData("mnist"));
        var rounds = RoundsOverride ?? (quick ? 5 : 15);
        var requests = RequestsOverride ?? (quick ? 400 : 2000);
        Console.WriteLine($"torch threads: {torch.get_num_threads()}, {Environment.ProcessorCount} cores, {RuntimeInfo()}, {HeapInfo()}");
        Console.WriteLine(Functional.Torch.Native.CpuKernels.Report);
        var dir = Directory.CreateTempSubdirectory("functional-bench-service-").FullName;
        try
        {
            // The main job's CNN saved as the main job saves it, then loaded by the service's own loader.
            var model = Cnn(true);
            var config = Path.Combine(dir, "model.json");
            File.WriteAllText(config, model.ToJson());
            using (var built = BuildOurs(model)) built.SaveWeights(ServedModel.WeightsPathFor(config));
            using var served = ServedModel.Load(config);
            var hand = HandCnnKerasFlatten();   // the same start as BuildOurs, so the same weights
            hand.eval();

            // Inputs: 64 real digits, as the service receives them (NHWC floats) and as the hand-written network takes them.
            const int N = 64;
            var (xs, _) = Batch(digits, N, "nhwc", 0);
            var (xsHand, _) = Batch(digits, N, "nchw", 0);
            var samples = Enumerable.Range(0, N).Select(i => xs[i].contiguous().data<float>().ToArray()).ToArray();
            var worst = 0.0;
            for (var i = 0; i < N; i++)
            {
                using var scope = NewDisposeScope();
                using var noGrad = no_grad();
                var a = served.Predict(samples[i], 1);
                var b = hand.call(xsHand.narrow(0, i, 1)).data<float>().ToArray();
                worst = Math.Max(worst, a.Zip(b, (p, q) => Math.Abs(p - q)).Max());
            }
            Console.WriteLine($"ServedModel.Predict and the hand-written forward agree on {N} digits to {worst:G3} (largest difference)");

            // 1. Batch-1 inference: native tensors made per call (exact), then time in alternating blocks.
            var results = new List<Result>();
            var ratios = new List<Ratio>();
            var k = 0;
            (string Name, Func<Action> Make)[] batchOne =
                [("ours Predict", () => () =>
                    {
                        using var scope = NewDisposeScope();
                        _ = served.Network.Predict(xs.narrow(0, k++ % N, 1)).data<float>().ToArray();
                    }),
                 ("ours ServedModel.Predict (float[] in and out)", () => () => _ = served.Predict(samples[k++ % N], 1)),
                 ("hand forward", () => () =>
                    {
                        using var scope = NewDisposeScope();
                        using var noGrad = no_grad();
                        _ = hand.call(xsHand.narrow(0, k++ % N, 1)).data<float>().ToArray();
                    })];
            Console.WriteLine("native tensors created per batch-1 call: " +
                              string.Join(", ", batchOne.Select(v => $"{v.Name} {TensorsPerStep(v.Make()):F1}")));
            Compare("cnn predict b1", rounds, quick ? 40 : 100, batchOne, results, ratios);
            var eight = new float[8 * served.InputSize];
            for (var i = 0; i < 8; i++) samples[i].CopyTo(eight, i * served.InputSize);
            Compare("cnn predict 8 samples", rounds, quick ? 10 : 25,
                [("ours ServedModel.Predict b8 (one call)", () => () => _ = served.Predict(eight, 8)),
                 ("8 × ServedModel.Predict b1", () => () => { for (var i = 0; i < 8; i++) _ = served.Predict(samples[i], 1); })],
                results, ratios, baselinePrefix: "8 ×");
            Print(results, ratios);

            // 2. HTTP latency.
            var expected = samples.Select(s => ArgMax(served.Predict(s, 1))).ToArray();
            var jsonBodies = samples.Select(s => Encoding.UTF8.GetBytes(JsonSerializer.Serialize(new { instances = new[] { s.Chunk(28).ToArray() } }))).ToArray();
            var pngBodies = Enumerable.Range(0, N).Select(i => Png(digits.Images.AsSpan(i * DigitSet.Pixels, DigitSet.Pixels))).ToArray();
            // Two services on the one model: every request its own Predict (the default), and micro-batched.
            WebApplication Start(ServiceOptions options)
            {
                var app = ServiceHost.Create(served, options, configure: b =>
                {
                    b.WebHost.UseUrls("http://127.0.0.1:0");
                    b.Logging.ClearProviders();
                });
                app.StartAsync().GetAwaiter().GetResult();
                return app;
            }
            var direct = Start(new ServiceOptions());
            var batched = Start(new ServiceOptions { MicroBatch = true });
            try
            {
                HttpClient Client(WebApplication app) => new(new SocketsHttpHandler { MaxConnectionsPerServer = 64 }) { BaseAddress = new Uri(app.Urls.First()) };
                using var directClient = Client(direct);
                using var batchedClient = Client(batched);
                var cases = new (string Name, HttpClient Http, byte[][] Bodies, string MediaType, int Concurrency)[]
                {
                    ("JSON, one 28×28 instance", directClient, jsonBodies, "application/json", 1),
                    ("JSON, one 28×28 instance", directClient, jsonBodies, "application/json", 8),
                    ("PNG body", directClient, pngBodies, "image/png", 1),
                    ("PNG body", directClient, pngBodies, "image/png", 8),
                    ("JSON, micro-batched", batchedClient, jsonBodies, "application/json", 1),
                    ("JSON, micro-batched", batchedClient, jsonBodies, "application/json", 8),
                };
                Console.WriteLine($"JSON body {jsonBodies[0].Length} bytes, PNG body {pngBodies[0].Length} bytes (digit 0)");
                foreach (var c in cases) Send(c.Http, c.Bodies, c.MediaType, c.Concurrency, 50, expected);   // warm-up
                var latencies = cases.Select(_ => new List<double>()).ToArray();
                var walls = new double[cases.Length];
                var httpRounds = quick ? 2 : 5;
                for (var r = 0; r < httpRounds; r++)
                    for (var i = 0; i < cases.Length; i++)
                    {
                        var clock = Stopwatch.StartNew();
                        latencies[i].AddRange(Send(cases[i].Http, cases[i].Bodies, cases[i].MediaType, cases[i].Concurrency, requests / httpRounds, expected));
                        walls[i] += clock.Elapsed.TotalSeconds;
                    }
                Console.WriteLine();
                Console.WriteLine($"| request | concurrency | requests | p50 ms | p95 ms | p99 ms | max ms | requests/s |");
                Console.WriteLine("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
                for (var i = 0; i < cases.Length; i++)
                {
                    var sorted = latencies[i].OrderBy(x => x).ToArray();
                    Console.WriteLine($"| {cases[i].Name} | {cases[i].Concurrency} | {sorted.Length} | {Percentile(sorted, 50):F2} | {Percentile(sorted, 95):F2} | " +
                                      $"{Percentile(sorted, 99):F2} | {sorted[^1]:F2} | {sorted.Length / walls[i]:F0} |");
                }
            }
            finally
            {
                foreach (var app in new[] { direct, batched })
                {
                    app.StopAsync().GetAwaiter().GetResult();
                    ((IAsyncDisposable)app).DisposeAsync().AsTask().GetAwaiter().GetResult();
                }
            }
        }
        finally
        {
            try { Directory.Delete(dir, true); } catch (IOException) { }
        }
    }

    // `count` requests from `concurrency` clients, each sending its share one after another; returns each request's
    // latency in ms. Every answer must be 200 with the class Predict gives.
    static List<double> Send(HttpClient http, byte[][] bodies, string mediaType, int concurrency, int count, int[] expected)
    {
        var next = -1;
        var clients = Enumerable.Range(0, concurrency).Select(_ => Task.Run(async () =>
        {
            var times = new List<double>();
            int i;
            while ((i = Interlocked.Increment(ref next)) < count)
            {
                var digit = i % bodies.Length;
                using var content = new ByteArrayContent(bodies[digit]);
                content.Headers.ContentType = new MediaTypeHeaderValue(mediaType);
                var start = Stopwatch.GetTimestamp();
                using var response = await http.PostAsync("/predict", content);
                var body = await response.Content.ReadAsByteArrayAsync();
                times.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
                if (response.StatusCode != HttpStatusCode.OK)
                    throw new InvalidOperationException($"{mediaType} request {i}: {(int)response.StatusCode} {Encoding.UTF8.GetString(body)}");
                using var doc = JsonDocument.Parse(body);
                var cls = doc.RootElement.GetProperty("classes")[0].GetInt32();
                if (cls != expected[digit]) throw new InvalidOperationException($"{mediaType} request {i}: class {cls}, Predict says {expected[digit]}");
            }
            return times;
        })).ToArray();
        Task.WaitAll(clients);
        return clients.SelectMany(c => c.Result).ToList();
    }

    static double Percentile(double[] sorted, double p) => sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(p / 100 * sorted.Length) - 1)];

    static int ArgMax(float[] p)
    {
        var best = 0;
        for (var i = 1; i < p.Length; i++) if (p[i] > p[best]) best = i;
        return best;
    }

    static byte[] Png(ReadOnlySpan<byte> pixels)
    {
        using var bitmap = new SKBitmap(new SKImageInfo(28, 28, SKColorType.Gray8, SKAlphaType.Opaque));
        Marshal.Copy(pixels.ToArray(), 0, bitmap.GetPixels(), pixels.Length);
        using var data = bitmap.Encode(SKEncodedImageFormat.Png, 100);
        return data.ToArray();
    }
}
