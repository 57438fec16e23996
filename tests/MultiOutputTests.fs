/// Layers whose call returns several tensors (Keras's list-returning layers), through a user-defined C# layer with two
/// outputs (examples/CSharpApi/CustomLayers.cs): declared with CallMany, summarised, written and read as configs, run.
module Functional.Tests.MultiOutputTests

open System
open Expecto
open TorchSharp
open Functional
open Functional.Shapes
open Functional.Functions
open Functional.Layers
open Functional.Models
open Functional.Torch
open Functional.Torch.Building
open Functional.Tests.Support

let tests =
    testList "Multi-output layers" [
        test "a two-output layer is declared with CallMany, summarised with both shapes, and its config keeps which output feeds what" {
            CSharpApi.CustomLayers.Register()
            let m = CSharpApi.CustomLayers.RangeModel()
            Expect.equal (m.GetLayer("range").Nodes.[0].OutputShapes.Length) 2 "two outputs"
            let row = m.Summarize().Rows |> Seq.find (fun r -> r.Name = "range")
            Expect.sequenceEqual row.OutputShapes [ Shape 3; Shape 3 ] "the summary row has both output shapes"
            Expect.stringContains (m.Summary()) "[(None, 3)," "printed as Keras's list"
            Expect.stringContains (m.Summary()) "range[0][1]" "the second Dense is connected to the second output"
            Expect.equal (ModelConfig.FromJson(m.ToJson())) (m :> IModel) "round trip, output indices included"
            throwsWith<InvalidOperationException> [ "StepRange 'range'"; "returns 2 tensors"; "CallMany" ] (fun () ->
                CSharpApi.StepRange(Name = "range").Call(Graph.Input(6, 3)) |> ignore)
            throwsWith<ArgumentException> [ "single output tensor" ] (fun () -> Sequential(Input(6, 3), CSharpApi.StepRange()) |> ignore)
        }

        test "the built graph runs both outputs: each Dense sees its own output" {
            torchReady 51
            CSharpApi.CustomLayers.Register()
            use net = BuiltNetwork.Build(CSharpApi.CustomLayers.RangeModel())
            use x = torch.randn(4L, 6L, 3L)
            use y = net.Predict x
            let weight name = (net.Weights |> Seq.find (fun w -> w.Name = name)).KerasView()
            use low = x.amin([| 1L |]).matmul(weight "low/kernel") + weight "low/bias"
            use high = x.amax([| 1L |]).matmul(weight "high/kernel") + weight "high/bias"
            use expected = torch.cat([| low; high |], 1L)
            Expect.isTrue (y.allclose(expected, rtol = 1e-5, atol = 1e-6)) "concat(Dense(min over steps), Dense(max over steps))"
        }
    ]

[<Tests>]
let all = tests
