/// The main job's command line (examples/Mnist/Cli.fs, compiled into the tests): every bad option is a message, never
/// an exception, and --help wins over everything else.
module Functional.Tests.MnistCliTests

open System.IO
open Expecto
open Functional.Examples.MnistCli

let private invalid (argv: string list) (fragments: string list) =
    match parse (Array.ofList argv) with
    | Invalid message -> for f in fragments do Expect.stringContains message f (sprintf "%A names %s" argv f)
    | other -> failtestf "%A: expected a message, got %A" argv other

[<Tests>]
let tests =
    testList "Mnist command line" [
        test "no options train with the README's defaults; options take `--name value` and `--name=value`" {
            Expect.equal (parse [||]) (Train defaults) "defaults"
            Expect.equal defaults.Epochs 4 "4 epochs"
            Expect.equal defaults.Device "cpu" "the CPU"
            let dir = Path.GetTempPath()
            Expect.equal defaults.Save (Path.Combine("out", "mnist", "model.json")) "the model goes to out/mnist/model.json"
            Expect.equal (weightsPathFor defaults.Save) (Path.Combine("out", "mnist", "model.safetensors")) "and its weights next to it"
            Expect.equal (parse [| "--epochs"; "2"; "--device"; "auto"; "--plot=c.svg"; "--data"; dir; "--save"; "m/net.json" |])
                (Train { Epochs = 2; Device = "auto"; Plot = "c.svg"; Data = Some dir; Save = "m/net.json"; Dtype = "float32" }) "all five"
            Expect.equal (parse [| "--device"; "cuda:1" |]) (Train { defaults with Device = "cuda:1" }) "cuda:N"
        }

        test "--help and -h show the usage, whatever else is on the line" {
            for argv in [ [| "--help" |]; [| "-h" |]; [| "--epochs"; "abc"; "-h" |]; [| "--nonsense"; "--help" |] ] do
                Expect.equal (parse argv) ShowHelp (sprintf "%A" argv)
            for option in [ "--epochs"; "--device"; "--plot"; "--data"; "--save"; "--help" ] do
                Expect.stringContains usage option "the usage lists every option"
        }

        test "a bad value, a missing value or an unknown option is a message naming it" {
            invalid [ "--epochs"; "abc" ] [ "--epochs expects a positive integer"; "'abc'" ]
            invalid [ "--epochs"; "0" ] [ "--epochs expects a positive integer"; "'0'" ]
            invalid [ "--epochs"; "-3" ] [ "--epochs expects a positive integer"; "'-3'" ]
            invalid [ "--epochs" ] [ "--epochs expects a positive integer." ]
            invalid [ "--epochs"; "--device"; "cpu" ] [ "--epochs expects a positive integer." ]
            invalid [ "--device"; "tpu" ] [ "--device expects cpu, cuda, cuda:N or auto"; "'tpu'" ]
            invalid [ "--plot"; "curves.gif" ] [ "--plot expects a file name ending in .png, .svg or .html"; "'curves.gif'" ]
            invalid [ "--data"; "/no/such/folder" ] [ "--data expects"; "'/no/such/folder', which is not a folder" ]
            invalid [ "--save"; "model.safetensors" ] [ "--save expects a file name ending in .json"; "'model.safetensors'" ]
            invalid [ "--save"; ".json" ] [ "--save expects a file name ending in .json"; "'.json'" ]
            invalid [ "--save" ] [ "--save expects a file name ending in .json." ]
            invalid [ "--frobnicate" ] [ "Unknown option '--frobnicate'" ]
            invalid [ "4" ] [ "Unknown option '4'" ]
        }
    ]
