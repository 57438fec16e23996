/// The F# DSL builds the same records as the C# API.
module Functional.Tests.DslTests

open System
open System.Reflection
open Expecto
open Functional
open Functional.Shapes
open Functional.Functions
open Functional.Layers
open Functional.Models
open Functional.FSharp
open type Functional.FSharp.Layers
open Functional.Tests.Support

/// Seed 000's CNN as an F# pipeline.
let seedCnnPipeline () =
    Model.input [ 28; 28; 1 ]
    |> Model.add (Layers.conv2d (32, 3, padding = "same", activation = "relu"))
    |> Model.add (Layers.maxPooling2d 2)
    |> Model.add (Layers.conv2d (64, 3, padding = "same", activation = "relu"))
    |> Model.add (Layers.maxPooling2d 2)
    |> Model.add (Layers.conv2d (128, 3, padding = "same", activation = "relu"))
    |> Model.add (Layers.maxPooling2d 2)
    |> Model.add (Layers.flatten ())
    |> Model.add (Layers.dense 10)
    |> Model.add (Layers.activation "softmax")

/// Seed 000's CNN as the sequential computation expression: one line per Keras line.
let seedCnnExpression () =
    sequential {
        input (28, 28, 1)
        conv2d (32, 3, padding = "same", activation = "relu")
        maxPooling2d 2
        conv2d (64, 3, padding = "same", activation = "relu")
        maxPooling2d 2
        conv2d (128, 3, padding = "same", activation = "relu")
        maxPooling2d 2
        flatten ()
        dense 10
        activation "softmax"
    }

/// The residual block with the graph functions and the one operator.
let residualBlockDsl () =
    let x = Graph.input [ 8; 8; 16 ]
    let y = x --> conv2d (16, 3, padding = "same", activation = "relu") --> conv2d (16, 3, padding = "same")
    Graph.model [ x ] [ Graph.merge (add ()) [ y; x ] --> activation "relu" ]

/// The DSL member for a record type: the same name up to case (Conv2D → conv2d, GlobalAveragePooling2D → globalAveragePooling2d).
let dslMember (t: Type) =
    typeof<Functional.FSharp.Layers>.GetMethods(BindingFlags.Public ||| BindingFlags.Static)
    |> Array.tryFind (fun m -> String.Equals(m.Name, t.Name, StringComparison.OrdinalIgnoreCase))

[<Tests>]
let tests =
    testList "F# DSL" [
        test "the F# pipeline and the C# constructors declare equal models with equal summaries" {
            let fromFSharp = seedCnnPipeline ()
            let fromCSharp = ModelTests.seedCnn ()
            Expect.equal fromFSharp fromCSharp "equal models"
            Expect.equal (Model.summary fromFSharp) (fromCSharp.Summary()) "equal summaries"
        }

        test "the list form equals the pipeline" {
            let listed =
                Model.sequential [ Layers.input (28, 28, 1); Layers.conv2d (32, 3, padding = "same", activation = "relu")
                                   Layers.maxPooling2d 2; Layers.conv2d (64, 3, padding = "same", activation = "relu")
                                   Layers.maxPooling2d 2; Layers.conv2d (128, 3, padding = "same", activation = "relu")
                                   Layers.maxPooling2d 2; Layers.flatten (); Layers.dense 10; Layers.activation "softmax" ]
            Expect.equal listed (seedCnnPipeline ()) "equal"
        }

        test "DSL arguments are validated by the records, naming the argument" {
            throwsWith<System.ArgumentException> [ "padding"; "'sane'" ] (fun () -> Layers.conv2d (32, 3, padding = "sane") |> ignore)
        }

        test "the computation expression, the pipeline, the list and the C# builders declare equal models" {
            let expected = ModelTests.seedCnn ()
            Expect.equal (seedCnnExpression ()) expected "computation expression"
            Expect.equal (seedCnnPipeline ()) expected "pipeline"
            Expect.equal (CSharpApi.Declarations.SeedCnn()) expected "C# collection expression"
            Expect.equal (CSharpApi.Declarations.SeedCnnFluent()) expected "C# fluent Add with records' `with`"
            Expect.equal (Model.summary (seedCnnExpression ())) (expected.Summary()) "equal summaries"
        }

        test "strings stand for Keras's options, activations, initializers and regularizers" {
            Expect.equal (dense (4, activation = "relu", kernelInitializer = "he_normal", kernelRegularizer = L2 0.01, name = "d"))
                         (Dense(4, activation = ActivationFunction.Relu, kernelInitializer = HeNormal(), kernelRegularizer = L2(0.01), Name = "d") :> Layer)
                         "dense"
            Expect.equal (conv2d (8, (3, 5), strides = 2, padding = "same", dataFormat = "channels_first", trainable = false))
                         (Conv2D(8, IntTuple(3, 5), strides = IntTuple 2, padding = Padding.Same, dataFormat = DataFormat.ChannelsFirst, Trainable = false) :> Layer)
                         "conv2d"
        }

        test "printers: a layer as a Keras call without its None arguments, a tensor as shape and dtype" {
            Expect.equal (Printing.layer (dense (4, activation = "relu", name = "head")))
                         "Dense(name='head', trainable=True, units=4, activation='relu', use_bias=True, kernel_initializer=GlorotUniform(), bias_initializer=Zeros())"
                         "dense"
            Expect.stringContains (Printing.layer (maxPooling2d 2)) "pool_size=(2, 2), strides=(2, 2), padding='valid'" "tuples"
            torchReady 22
            use t = TorchSharp.torch.zeros(3L)
            Expect.equal (Printing.tensor t) "Tensor(shape=(3,), dtype=float32, device=cpu)" "tensor"
        }

        test "the expression takes loops and nested lists of layers" {
            let widths = [ 16; 8 ]
            let head = [ dropout 0.5; dense (2, activation = "softmax") ]
            let m = sequential {
                input 4
                for w in widths do dense (w, activation = "relu")
                yield! head
            }
            let expected = Model.input [ 4 ] |> Model.add (dense (16, activation = "relu")) |> Model.add (dense (8, activation = "relu"))
                           |> Model.add (dropout 0.5) |> Model.add (dense (2, activation = "softmax"))
            Expect.equal m expected "equal"
        }

        test "graphs from the F# functions equal graphs from the C# API" {
            Expect.equal (residualBlockDsl ()) (GraphTests.residualBlock ()) "residual block"
            Expect.equal (CSharpApi.Declarations.ResidualBlock(8, 16)) (GraphTests.residualBlock () |> fun m -> m.WithName "residual_block") "C#"
        }

        test "a layer value applied twice in the DSL is one shared layer" {
            let a, b = Graph.namedInput "a" [ 5 ], Graph.namedInput "b" [ 5 ]
            let shared = dense 3
            let m = Graph.model [ a; b ] [ a --> shared; b --> shared ]
            Expect.equal m.Operations.Length 3 "one Dense"
            Expect.equal (Model.countParams m) 18L "counted once"
        }

        test "every layer record has a DSL function (same name up to case) returning that record" {
            let missing =
                ConfigTests.layerTypes |> Array.filter (fun t -> (dslMember t).IsNone) |> Array.map (fun t -> t.Name)
            Expect.isEmpty missing "layer records without a DSL function"
        }

        test "every DSL function with only its required arguments equals the record with Keras's defaults" {
            for t in ConfigTests.layerTypes do
                let m = (dslMember t).Value
                let required = m.GetParameters() |> Array.filter (fun p -> not (p.IsDefined typeof<OptionalArgumentAttribute>))
                let ctor = ConfigTests.kerasConstructor t
                let ctorRequired = ctor.GetParameters() |> Array.filter (fun p -> not p.HasDefaultValue)
                Expect.equal (required |> Array.map (fun p -> p.Name)) (ctorRequired |> Array.map (fun p -> p.Name)) (sprintf "%s: required arguments" t.Name)
                // The first candidate values the record accepts for its required arguments.
                let reference = (ConfigTests.baseInstance t).Value :?> Layer
                let members = RecordConfig.For(t).Members
                let values = ctorRequired |> Array.map (fun p ->
                    (members |> Seq.find (fun m -> not (isNull m.Parameter) && m.Parameter.Name = p.Name)).Property.GetValue reference)
                let args = m.GetParameters() |> Array.map (fun p ->
                    match Array.tryFindIndex (fun (r: ParameterInfo) -> r.Name = p.Name) ctorRequired with
                    | Some i -> values.[i]
                    | None -> null)   // None: the DSL's optional argument left out
                let fromDsl = m.Invoke(null, args) :?> Layer
                Expect.equal fromDsl reference (sprintf "%s: DSL defaults = record defaults" t.Name)
        }

        testSequenced <| test "in scripts, a bad declaration is a ScriptError that prints its message, not a stack dump" {
            ScriptErrors.enabled <- true
            try
                let e = Expect.throwsC (fun () -> Model.input [ 2; 2; 1 ] |> Model.add (conv2d (3, 5)) |> ignore) id
                Expect.isTrue (e :? ScriptError) "a ScriptError"
                Expect.isTrue (e :? ArgumentException) "still an ArgumentException"
                Expect.isTrue (e.InnerException :? ShapeException) "the library's exception inside"
                Expect.stringStarts (e.ToString()) "Error: Conv2D 'conv2d' cannot take input shape (None, 2, 2, 1)" "readable"
                Expect.isFalse ((e.ToString()).Contains "   at Functional") "no frames"
                let e = Expect.throwsC (fun () -> conv2d (3, 0) |> ignore) id
                Expect.isFalse ((e.ToString()).Contains "(Parameter ") "no .NET parameter suffix"
            finally
                ScriptErrors.enabled <- false
            throwsWith<ShapeException> [ "Conv2D" ] (fun () -> Model.input [ 2; 2; 1 ] |> Model.add (conv2d (3, 5)) |> ignore)
        }

        testSequenced <| test "the C# example declares, prints, round-trips and runs a Sequential and graphs" {
            torchReady 21
            use writer = new IO.StringWriter()
            let models = CSharpApi.Demo.Run writer
            let text = writer.ToString()
            Expect.equal models.Count 4 "four models"
            Expect.stringContains text " Total params: 104,202 (407.04 KB)" "the seed CNN's summary"
            Expect.stringContains text "Connected to" "a graph summary"
            Expect.equal (Text.RegularExpressions.Regex.Matches(text, "reloads equal: True").Count) 4 "every config reloads equal"
            Expect.stringContains text "forward: [(2, 12), (2, 12)] -> [(2, 1), (2, 4)]" "two inputs, two outputs"
            Expect.stringContains text "forward: [(2, 28, 28, 1)] -> [(2, 10)]" "the CNN runs"
        }
    ]
