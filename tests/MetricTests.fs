/// Keras metrics: docstring examples, streaming accumulation over batches, weighted means, accuracy resolution.
module Functional.Tests.MetricTests

open System
open Expecto
open TorchSharp
open Functional.Training
open Functional.Torch.Data
open Functional.Torch.Training
open Functional.Tests.Support
open Functional.Tests.LossTests

let result (metric: Metric) = metric.Result()

[<Tests>]
let tests =
    testSequenced <| testList "Metrics" [
        test "Mean: plain and weighted, as Keras's docstring ([1, 3, 5, 7] → 4; weights [1, 1, 0, 0] → 2)" {
            torchReady 2
            let mean = Mean()
            mean.UpdateValues(v [ 1.; 3.; 5.; 7. ])
            close 1e-9 (result mean) 4.0 "mean"
            mean.ResetState()
            mean.UpdateValues(v [ 1.; 3.; 5.; 7. ], v [ 1.; 1.; 0.; 0. ])
            close 1e-9 (result mean) 2.0 "weighted"
        }

        test "accuracy metrics match Keras's docstring examples, with and without sample weights" {
            torchReady 2
            let acc = Accuracy()
            acc.UpdateState(m [ [ 1. ]; [ 2. ]; [ 3. ]; [ 4. ] ], m [ [ 0. ]; [ 2. ]; [ 3. ]; [ 4. ] ])
            close 1e-9 (result acc) 0.75 "accuracy"
            let acc = Accuracy()
            acc.UpdateState(m [ [ 1. ]; [ 2. ]; [ 3. ]; [ 4. ] ], m [ [ 0. ]; [ 2. ]; [ 3. ]; [ 4. ] ], v [ 1.; 1.; 0.; 0. ])
            close 1e-9 (result acc) 0.5 "weighted accuracy"

            let bin = BinaryAccuracy()
            bin.UpdateState(m [ [ 1. ]; [ 1. ]; [ 0. ]; [ 0. ] ], m [ [ 0.98 ]; [ 1. ]; [ 0. ]; [ 0.6 ] ])
            close 1e-9 (result bin) 0.75 "binary"
            let bin = BinaryAccuracy()
            bin.UpdateState(m [ [ 1. ]; [ 1. ]; [ 0. ]; [ 0. ] ], m [ [ 0.98 ]; [ 1. ]; [ 0. ]; [ 0.6 ] ], v [ 1.; 0.; 0.; 1. ])
            close 1e-9 (result bin) 0.5 "weighted binary"

            let cat = CategoricalAccuracy()
            cat.UpdateState(m [ [ 0.; 0.; 1. ]; [ 0.; 1.; 0. ] ], m [ [ 0.1; 0.9; 0.8 ]; [ 0.05; 0.95; 0. ] ])
            close 1e-9 (result cat) 0.5 "categorical"
            let cat = CategoricalAccuracy()
            cat.UpdateState(m [ [ 0.; 0.; 1. ]; [ 0.; 1.; 0. ] ], m [ [ 0.1; 0.9; 0.8 ]; [ 0.05; 0.95; 0. ] ], v [ 0.7; 0.3 ])
            close 1e-6 (result cat) 0.3 "weighted categorical"

            let sparse = SparseCategoricalAccuracy()
            sparse.UpdateState(m [ [ 2. ]; [ 1. ] ], m [ [ 0.1; 0.6; 0.3 ]; [ 0.05; 0.95; 0. ] ])
            close 1e-9 (result sparse) 0.5 "sparse"
            let sparse = SparseCategoricalAccuracy()
            sparse.UpdateState(labels [ 2; 1 ], m [ [ 0.1; 0.6; 0.3 ]; [ 0.05; 0.95; 0. ] ], v [ 0.7; 0.3 ])
            close 1e-6 (result sparse) 0.3 "weighted sparse"

            let top1 = TopKCategoricalAccuracy(k = 1)
            top1.UpdateState(m [ [ 0.; 0.; 1. ]; [ 0.; 1.; 0. ] ], m [ [ 0.1; 0.9; 0.8 ]; [ 0.05; 0.95; 0. ] ])
            close 1e-9 (result top1) 0.5 "top-1"
            let top2 = TopKCategoricalAccuracy(k = 2)
            top2.UpdateState(m [ [ 0.; 0.; 1. ]; [ 0.; 1.; 0. ] ], m [ [ 0.1; 0.9; 0.8 ]; [ 0.05; 0.95; 0. ] ])
            close 1e-9 (result top2) 1.0 "top-2"
            let sparseTop1 = SparseTopKCategoricalAccuracy(k = 1)
            sparseTop1.UpdateState(labels [ 2; 1 ], m [ [ 0.1; 0.9; 0.8 ]; [ 0.05; 0.95; 0. ] ], v [ 0.7; 0.3 ])
            close 1e-6 (result sparseTop1) 0.3 "weighted sparse top-1"
            // Ties count as in the top k (Keras's in_top_k compares values).
            let tie = SparseTopKCategoricalAccuracy(k = 1)
            tie.UpdateState(labels [ 0 ], m [ [ 0.5; 0.5; 0. ] ])
            close 1e-9 (result tie) 1.0 "tie"
        }

        testPropertyWithConfig torchConfig "Mean: the unweighted fast path equals unit weights and the pooled naive mean" <|
            fun (batches: FsCheck.NonEmptyArray<FsCheck.NonEmptyArray<FsCheck.NormalFloat>>) ->
                torchReady 3
                let plain, weighted = Mean(), Mean()
                let all = batches.Get |> Array.map (fun b -> b.Get |> Array.map (fun x -> x.Get % 1e6))
                for b in all do
                    plain.UpdateValues(torch.tensor(b))
                    weighted.UpdateValues(torch.tensor(b), torch.ones(int64 b.Length))
                let naive = all |> Array.concat |> Array.average
                close 1e-9 (result plain) naive "fast path = naive pooled mean"
                close 1e-9 (result weighted) naive "weighted path with unit weights = naive"

        test "metrics stream: two batches give the pooled value, and a reset starts again" {
            torchReady 2
            let bin = BinaryAccuracy()
            bin.UpdateState(m [ [ 1. ]; [ 1. ]; [ 0. ]; [ 0. ] ], m [ [ 0.98 ]; [ 1. ]; [ 0. ]; [ 0.6 ] ])   // 3 of 4
            bin.UpdateState(m [ [ 1. ]; [ 0. ] ], m [ [ 0.2 ]; [ 0.1 ] ])                                // 1 of 2
            close 1e-9 (result bin) (4.0 / 6.0) "pooled over 6 samples, not the mean of batch means"
            bin.ResetState()
            bin.UpdateState(m [ [ 1. ] ], m [ [ 0.9 ] ])
            close 1e-9 (result bin) 1.0 "after reset"
            // Weighted streaming: Σ w·v / Σ w over all batches.
            let mse = Metrics.Get "mse"
            mse.UpdateState(m [ [ 0. ] ], m [ [ 1. ] ], v [ 3. ])
            mse.UpdateState(m [ [ 0. ] ], m [ [ 2. ] ], v [ 1. ])
            close 1e-9 (result mse) ((3.0 * 1.0 + 1.0 * 4.0) / 4.0) "weighted stream"
        }

        test "'accuracy' resolves from shapes as Keras's compile does: binary, sparse, or categorical" {
            torchReady 2
            let binary = AutoAccuracy.Resolve(m [ [ 1. ] ], m [ [ 0.7 ] ], "accuracy")
            Expect.equal (binary.GetType()) typeof<BinaryAccuracy> "last axis 1 → binary"
            let sparse = AutoAccuracy.Resolve(labels [ 1 ], m [ [ 0.2; 0.8 ] ], "accuracy")
            Expect.equal (sparse.GetType()) typeof<SparseCategoricalAccuracy> "lower-rank targets → sparse"
            let sparse2 = AutoAccuracy.Resolve(m [ [ 1. ] ], m [ [ 0.2; 0.8 ] ], "acc")
            Expect.equal (sparse2.GetType()) typeof<SparseCategoricalAccuracy> "(N, 1) targets vs classes → sparse"
            let cat = AutoAccuracy.Resolve(m [ [ 0.; 1. ] ], m [ [ 0.2; 0.8 ] ], "accuracy")
            Expect.equal (cat.GetType()) typeof<CategoricalAccuracy> "one-hot → categorical"
            let auto = Metrics.Get "acc"
            auto.UpdateState(labels [ 1; 0 ], m [ [ 0.2; 0.8 ]; [ 0.3; 0.7 ] ])
            Expect.equal auto.Name "acc" "keeps the name given"
            close 1e-9 (result auto) 0.5 "value"
        }

        test "any loss is a metric: its per-sample values averaged (mae as a metric equals the mae loss)" {
            torchReady 2
            let mae = Metrics.Get "mae"
            mae.UpdateState(m yt, m yp2)
            close 1e-6 (result mae) (scalar ((MeanAbsoluteError()).Compute(m yt, m yp2))) "mae"
            Expect.equal mae.Name "mae" "named as given"
            let cce = Metrics.FromLoss(CategoricalCrossentropy())
            cce.UpdateState(m [ [ 0.; 1.; 0. ]; [ 0.; 0.; 1. ] ], m [ [ 0.05; 0.95; 0. ]; [ 0.1; 0.8; 0.1 ] ])
            close 1e-3 (result cce) 1.177 "cce as metric"
            throwsWith<ArgumentException> [ "Could not interpret metric identifier"; "acuracy" ] (fun () -> Metrics.Get "acuracy" |> ignore)
        }
    ]
